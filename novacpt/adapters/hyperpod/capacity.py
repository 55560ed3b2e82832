"""Scale the P5 restricted instance group (RIG) of a SageMaker HyperPod cluster up for a run and back down after it.

Only SageMaker `DescribeCluster`, `ListClusterNodes` and `UpdateCluster` are called. `UpdateCluster`
gets every instance group back as `DescribeCluster` returns it (turned into the request shape), with
only the RIG's `InstanceCount` changed, so that nothing else about the cluster moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from novacpt.kernel.errors import (
    CapacityUnavailable,
    ClusterBusy,
    PipelineError,
    aws_failure,
    error_code,
    error_message,
)
from novacpt.kernel.ports import CapacityStatus

# Cluster states in which an update is already under way (a new one would be refused).
BUSY_STATES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
RUNNING = "Running"
# DescribeCluster fields that hold what a request field asks for, where the names differ.
_RENAMED = {"InstanceCount": "TargetCount", "MinInstanceCount": "MinCount"}


class HyperPodCapacity:
    """Capacity half of the ClusterBackend for one RIG: scale to a run's replicas, back to `resting_count`.

    With `always_on` the group's size is never changed: a run waits for enough instances in service
    and releasing does nothing.
    """

    def __init__(
        self, sagemaker: Any, cluster_name: str, instance_group: str, resting_count: int, *, always_on: bool = False
    ) -> None:
        self.sagemaker = sagemaker
        self.cluster_name = cluster_name
        self.instance_group = instance_group
        self.resting_count = resting_count
        self.always_on = always_on

    def prepare_capacity(self, replicas: int) -> bool:
        """Ask for `replicas` instances unless an update is under way; True once that many are running."""
        cluster = self._describe()
        group = self._group(cluster)
        target = _target(group)
        if self.always_on:
            if target < replicas:
                raise CapacityUnavailable(
                    f"{self._where()} is always-on with {target} instances; the recipe asks for {replicas}"
                )
            return self._running() >= replicas
        state = str(cluster["ClusterStatus"])
        if state == "Failed":
            raise CapacityUnavailable(f"{self._where()} is Failed: {cluster.get('FailureMessage') or 'no message'}")
        if state in BUSY_STATES:
            return False  # our own scale-up (or another update) is in progress: ask nothing new
        if target not in (replicas, self.resting_count):
            raise CapacityUnavailable(
                f"{self._where()} is sized for {target} instances, not its resting {self.resting_count}: another "
                "run is using it (runs on one cluster go one at a time), or a release failed (set its count back)"
            )
        if target != replicas:
            self._update(cluster, replicas)
            return False
        return self._running() >= replicas

    def capacity_status(self) -> CapacityStatus:
        """The RIG's target and running instances, the cluster's status and its last failure message."""
        cluster = self._describe()
        return CapacityStatus(
            _target(self._group(cluster)),
            self._running(),
            str(cluster["ClusterStatus"]),
            str(cluster.get("FailureMessage") or ""),
        )

    def release_capacity(self) -> bool:
        """Ask for the resting size; True once the group is there (always-on: nothing to do, True).

        Raises ClusterBusy while another update (a scale-up in flight) is under way: the caller looks again later.
        """
        if self.always_on:
            return True
        cluster = self._describe()
        busy = cluster["ClusterStatus"] in BUSY_STATES
        if _target(self._group(cluster)) == self.resting_count:
            return not busy  # asked for already: at rest once the update ends
        if busy:
            raise ClusterBusy(f"{self._where()} is {cluster['ClusterStatus']}: it is scaled down when that ends")
        self._update(cluster, self.resting_count)
        return False

    # --- SageMaker calls --------------------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("describe_cluster", ClusterName=self.cluster_name)
        return answer

    def _running(self) -> int:
        running = 0
        token: str | None = None
        while True:
            request = {"ClusterName": self.cluster_name, "InstanceGroupNameContains": self.instance_group}
            page = self._call("list_cluster_nodes", **request, **({"NextToken": token} if token else {}))
            running += sum(
                1
                for node in page.get("ClusterNodeSummaries", [])
                if node["InstanceGroupName"] == self.instance_group and node["InstanceStatus"]["Status"] == RUNNING
            )
            token = page.get("NextToken")
            if not token:
                return running

    def _update(self, cluster: dict[str, Any], count: int) -> None:
        model = self.sagemaker.meta.service_model
        restricted = model.shape_for("ClusterRestrictedInstanceGroupSpecification")
        request: dict[str, Any] = {
            "ClusterName": self.cluster_name,
            "RestrictedInstanceGroups": [
                {**_as_request(group, restricted), "InstanceCount": count}
                if group["InstanceGroupName"] == self.instance_group
                else _as_request(group, restricted)
                for group in cluster.get("RestrictedInstanceGroups", [])
            ],
        }
        if cluster.get("InstanceGroups"):
            standard = model.shape_for("ClusterInstanceGroupSpecification")
            request["InstanceGroups"] = [_as_request(group, standard) for group in cluster["InstanceGroups"]]
        try:
            self.sagemaker.update_cluster(**request)
        except ClientError as exc:
            code = error_code(exc)
            if code == "ConflictException":
                raise ClusterBusy(f"{self._where()} is being updated ({error_message(exc)})") from exc
            if code == "ResourceLimitExceeded":
                raise CapacityUnavailable(
                    f"{self._where()}: {count} instances exceed a service quota ({error_message(exc)}); ask for a "
                    "higher 'ml.p5.48xlarge for cluster usage' quota in Service Quotas"
                ) from exc
            raise self._error("update_cluster", exc) from exc

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.sagemaker, operation)(**kwargs)
        except ClientError as exc:
            raise self._error(operation, exc) from exc

    def _error(self, operation: str, exc: ClientError) -> PipelineError:
        return aws_failure(f"SageMaker {operation} on {self.cluster_name}", exc, service="SageMaker")

    def _group(self, cluster: dict[str, Any]) -> dict[str, Any]:
        for group in cluster.get("RestrictedInstanceGroups", []):
            if group["InstanceGroupName"] == self.instance_group:
                return dict(group)
        names = [g["InstanceGroupName"] for g in cluster.get("RestrictedInstanceGroups", [])]
        raise PipelineError(
            f"HyperPod cluster {self.cluster_name} has no restricted instance group {self.instance_group!r} "
            f"(it has {names or 'none'}); set nova-cpt:instance_group_name to the right one"
        )

    def _where(self) -> str:
        return f"instance group {self.instance_group} of HyperPod cluster {self.cluster_name}"


def _target(group: Mapping[str, Any]) -> int:
    return int(group.get("TargetCount", group.get("CurrentCount", 0)))


def _as_request(value: Any, shape: Any) -> Any:
    """A DescribeCluster value in the shape of the matching request field (unknown and read-only fields dropped).

    A request field `X` takes the description's `X`, else its `DesiredX` (what was last asked for), else
    its `CurrentX`; `InstanceCount` and `MinInstanceCount` come from `TargetCount` and `MinCount`.
    """
    if shape.type_name == "list":
        return [_as_request(item, shape.member) for item in value]
    if shape.type_name != "structure":
        return value
    result: dict[str, Any] = {}
    for name, member in shape.members.items():
        for source in (name, _RENAMED.get(name), f"Desired{name}", f"Current{name}"):
            if source and source in value:
                result[name] = _as_request(value[source], member)
                break
    if "ImageId" in result:
        result.pop("ImageReleaseVersion", None)  # one way of naming the image is enough
    return result
