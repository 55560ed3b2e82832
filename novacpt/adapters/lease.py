"""The capacity lease and the run queue of one restricted instance group, kept in DynamoDB.

One table holds, per instance group (partition key `group`):

* the lease (sort key `lease`): the one execution that owns the group, when it took it, for which
  job and replica count, and whether its scale-down is under way. Only its owner may change the
  group's instance count; it is taken with a conditional put and ended with a conditional delete,
  both naming the owner, so no other execution can take or end it;
* the queue (sort keys `queue#<arrival>#<execution>`): one entry per run waiting for the group, in
  arrival order (the execution's start time). Only the head of the queue may take the lease; taking
  it removes the entry in the same transaction.

Every read is strongly consistent: two executions never both see a free lease and both take it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from novacpt.kernel.errors import PipelineError, aws_failure, error_code

LEASE_KEY: Final = "lease"
QUEUE_PREFIX: Final = "queue#"
HELD: Final = "held"
RELEASING: Final = "releasing"
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def arrival_key(started_at: str | datetime) -> str:
    """An execution's start time in one sortable form (UTC, microseconds), whatever form it came in."""
    moment = (
        started_at if isinstance(started_at, datetime) else datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who owns the group, since when, for what; `state` is `held`, or `releasing` while it scales down."""

    owner: str
    owner_arn: str
    acquired_at: str
    replicas: int
    job_name: str
    state: str = HELD
    release_started_at: str = ""

    def describe(self) -> str:
        """One line for messages: the owner, what it runs and since when."""
        doing = "scaling it down" if self.state == RELEASING else f"job {self.job_name} on {self.replicas} instances"
        return f"run {self.owner} ({doing}, since {self.acquired_at})"


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One run waiting for the group."""

    execution: str
    execution_arn: str
    arrived_at: str
    replicas: int = 0

    @property
    def sort_key(self) -> str:
        return f"{QUEUE_PREFIX}{self.arrived_at}#{self.execution}"


@dataclass(frozen=True, slots=True)
class Acquisition:
    """The outcome of one attempt: taken, or the 1-based queue position and who holds the group."""

    acquired: bool
    lease: Lease | None
    position: int = 0
    head: str = ""


class LeaseTable:
    """The lease and queue of one instance group (`group`), in the DynamoDB table `table_name`."""

    def __init__(self, client: Any, table_name: str, group: str) -> None:
        self.client = client
        self.table = table_name
        self.group = group

    # --- reads ------------------------------------------------------------------------------------

    def lease(self) -> Lease | None:
        """The current lease, or None when the group is free."""
        answer = self._call("get_item", Key=self._key(LEASE_KEY), ConsistentRead=True)
        item = answer.get("Item")
        return _lease(item) if item else None

    def queue(self) -> list[QueueEntry]:
        """The waiting runs, first arrived first."""
        entries: list[QueueEntry] = []
        request: dict[str, Any] = {
            "KeyConditionExpression": "#g = :g AND begins_with(#e, :q)",
            "ExpressionAttributeNames": {"#g": "group", "#e": "entry"},
            "ExpressionAttributeValues": {":g": {"S": self.group}, ":q": {"S": QUEUE_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **request)
            entries += [_entry(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return entries
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- the queue --------------------------------------------------------------------------------

    def join(self, entry: QueueEntry) -> None:
        """Wait in line (idempotent: joining again keeps the place)."""
        item = {
            **self._key(entry.sort_key),
            "execution": {"S": entry.execution},
            "execution_arn": {"S": entry.execution_arn},
            "arrived_at": {"S": entry.arrived_at},
            "replicas": {"N": str(entry.replicas)},
        }
        self._call("put_item", Item=item)

    def leave(self, execution: str) -> bool:
        """Leave the line (True when there was an entry)."""
        mine = [e for e in self.queue() if e.execution == execution]
        for entry in mine:
            self._call("delete_item", Key=self._key(entry.sort_key))
        return bool(mine)

    # --- the lease --------------------------------------------------------------------------------

    def try_acquire(
        self,
        entry: QueueEntry,
        *,
        job_name: str,
        now: datetime,
        alive: Callable[[QueueEntry], bool] = lambda _: True,
    ) -> Acquisition:
        """Take the lease if it is free and `entry` heads the queue; else say where the run stands.

        Idempotent: the owner asking again gets its lease back. Heads of the queue that `alive` says
        have ended (an execution that failed or was aborted without leaving) are removed first.
        """
        current = self.lease()
        if current is not None and current.owner == entry.execution:
            return Acquisition(True, current)
        waiting = self.queue()
        while waiting and waiting[0].execution != entry.execution and not alive(waiting[0]):
            self._call("delete_item", Key=self._key(waiting[0].sort_key))
            waiting.pop(0)
        stored = next((e for e in waiting if e.execution == entry.execution), None)
        if stored is None or stored.replicas != entry.replicas:
            self.join(entry)  # written again when lost, and with the replicas once the recipe is known
            waiting = sorted([*(e for e in waiting if e.execution != entry.execution), entry], key=lambda e: e.sort_key)
        position = next(i for i, e in enumerate(waiting, 1) if e.execution == entry.execution)
        if current is not None or position != 1:
            return Acquisition(False, current, position, waiting[0].execution)
        lease = Lease(entry.execution, entry.execution_arn, arrival_key(now), entry.replicas, job_name)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {**self._key(LEASE_KEY), **_lease_item(lease)},
                            "ConditionExpression": "attribute_not_exists(#e)",
                            "ExpressionAttributeNames": {"#e": "entry"},
                        }
                    },
                    {"Delete": {"TableName": self.table, "Key": self._key(entry.sort_key)}},
                ]
            )
        except ClientError as exc:
            if error_code(exc) not in {"TransactionCanceledException", "ConditionalCheckFailedException"}:
                raise self._error("TransactWriteItems", exc) from exc
            return Acquisition(False, self.lease(), position, entry.execution)  # taken between the read and now
        return Acquisition(True, lease)

    def start_release(self, owner: str, now: datetime) -> Lease | None:
        """Mark the owner's lease `releasing` (its scale-down began); None when `owner` holds no lease."""
        try:
            answer = self._call(
                "update_item",
                Key=self._key(LEASE_KEY),
                UpdateExpression="SET #s = :releasing, release_started_at = if_not_exists(release_started_at, :now)",
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#s": "state", "#o": "owner"},
                ExpressionAttributeValues={
                    ":releasing": {"S": RELEASING},
                    ":now": {"S": arrival_key(now)},
                    ":owner": {"S": owner},
                },
                ReturnValues="ALL_NEW",
                conditional=True,
            )
        except _NotOwner:
            return None
        return _lease(answer["Attributes"])

    def release(self, owner: str) -> bool:
        """End the lease of `owner` (conditional delete); False when `owner` holds no lease."""
        try:
            self._call(
                "delete_item",
                Key=self._key(LEASE_KEY),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
                conditional=True,
            )
        except _NotOwner:
            return False
        return True

    # --- DynamoDB calls ---------------------------------------------------------------------------

    def _key(self, entry: str) -> dict[str, Any]:
        return {"group": {"S": self.group}, "entry": {"S": entry}}

    def _call(self, operation: str, *, conditional: bool = False, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(TableName=self.table, **kwargs)
        except ClientError as exc:
            if conditional and error_code(exc) == "ConditionalCheckFailedException":
                raise _NotOwner from exc
            raise self._error(operation, exc) from exc

    def _error(self, operation: str, exc: ClientError) -> PipelineError:
        return aws_failure(f"DynamoDB {operation} on the lease table {self.table}", exc, service="DynamoDB")


class _NotOwner(Exception):
    """A conditional write naming the owner found another owner, or none."""


def _lease_item(lease: Lease) -> dict[str, Any]:
    item: dict[str, Any] = {
        "owner": {"S": lease.owner},
        "owner_arn": {"S": lease.owner_arn},
        "acquired_at": {"S": lease.acquired_at},
        "replicas": {"N": str(lease.replicas)},
        "job_name": {"S": lease.job_name},
        "state": {"S": lease.state},
    }
    if lease.release_started_at:
        item["release_started_at"] = {"S": lease.release_started_at}
    return item


def _lease(item: dict[str, Any]) -> Lease:
    def text(name: str) -> str:
        return str(item.get(name, {}).get("S", ""))

    return Lease(
        owner=text("owner"),
        owner_arn=text("owner_arn"),
        acquired_at=text("acquired_at"),
        replicas=int(item.get("replicas", {}).get("N", "0")),
        job_name=text("job_name"),
        state=text("state") or HELD,
        release_started_at=text("release_started_at"),
    )


def _entry(item: dict[str, Any]) -> QueueEntry:
    return QueueEntry(
        execution=item["execution"]["S"],
        execution_arn=item.get("execution_arn", {}).get("S", ""),
        arrived_at=item["arrived_at"]["S"],
        replicas=int(item.get("replicas", {}).get("N", "0")),
    )


@dataclass(frozen=True, slots=True)
class GroupView:
    """What the table holds for one instance group: its lease (or None) and its queue, first in line first."""

    group: str
    lease: Lease | None
    queue: list[QueueEntry]

    def place(self, execution: str) -> str:
        """Where `execution` stands: "owner", "releasing", "in line N", or "" when it is neither."""
        if self.lease is not None and self.lease.owner == execution:
            return "releasing" if self.lease.state == RELEASING else "owner"
        for position, entry in enumerate(self.queue, 1):
            if entry.execution == execution:
                return f"in line {position}"
        return ""


def read_all(client: Any, table_name: str) -> list[GroupView]:
    """Every instance group's lease and queue (a consistent scan of the small table), for `cpt status`."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    groups: dict[str, GroupView] = {}
    for item in sorted(items, key=lambda i: (i["group"]["S"], i["entry"]["S"])):
        name = item["group"]["S"]
        view = groups.setdefault(name, GroupView(name, None, []))
        if item["entry"]["S"] == LEASE_KEY:
            groups[name] = GroupView(name, _lease(item), view.queue)
        elif item["entry"]["S"].startswith(QUEUE_PREFIX):
            view.queue.append(_entry(item))
    return list(groups.values())
