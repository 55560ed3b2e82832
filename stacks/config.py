"""Typed deployment configuration of the CDK app.

`DeploymentConfig` is the only way configuration reaches the stacks: app.py reads it
from the CDK context once (`DeploymentConfig.from_context(app.node.try_get_context)`)
and passes it to the stacks as a keyword-only prop. Constructs never read context
or environment variables themselves.

Context layout (cdk.json, `cdk.context.json` or `cdk synth -c ...`):

* ``"nova-cpt"``: an object whose keys are the field names below, e.g.
  ``{"archive_transition_days": 120}`` (a JSON string is accepted too, because
  ``cdk synth -c nova-cpt='{...}'`` passes it as text);
* ``"nova-cpt:<field>"``: one field, e.g. ``cdk synth -c nova-cpt:poll_interval_seconds=600``;
  it overrides the same field of the object.

A bad value raises `ConfigError`, whose message is one line naming the context key,
the bad value and what is allowed.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Final, Literal

from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from novacpt.catalog import BY_KEY, IMAGE_ACCOUNTS

CONTEXT_KEY: Final = "nova-cpt"
"""Context key of the configuration object; single fields use ``nova-cpt:<field>``."""

# The retention periods CloudWatch Logs accepts (PutRetentionPolicy `retentionInDays`),
# each with the aws-cdk-lib enum member that renders it.
LOG_RETENTION_DAYS: Final[Mapping[int, logs.RetentionDays]] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}

NovaRegion = Literal["us-east-1", "us-west-2", "ap-northeast-1"]
"""Regions with Nova CPT images (novacpt.catalog.IMAGE_ACCOUNTS)."""

# Kubernetes versions SageMaker HyperPod supports that EKS still offers (HyperPod EKS prerequisites page).
KubernetesVersion = Literal["1.31", "1.32", "1.33", "1.34"]

# FSx for Lustre SSD tiers (MB/s per TiB) of the RIG's service-managed file system.
FSX_THROUGHPUTS: Final = (125, 250, 500, 1000)

# The cost guard is on by default: 400 P5 instance-hours is 25 hours of the default 16-instance
# Lite cluster (about $39,000 at $98.32 an instance-hour). Raise it in cdk.json for larger runs.
DEFAULT_BUDGET_INSTANCE_HOURS: Final = 400.0

_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # HyperPod cluster and instance group names
_IAM_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]+$")

# Deliberately simple: one "@", no whitespace, a dot in the domain. SNS does the
# real check when the subscription confirmation mail is sent.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class ConfigError(ValueError):
    """A context value is invalid. The message is one line: key, bad value, what is allowed."""


def _allowed(text: str) -> Any:
    """A field's description: what it allows, in words (the one-line ConfigError quotes it)."""
    return Field(description=text)


class _Config(BaseModel):
    """Settings read from the CDK context: immutable, unknown keys refused, no booleans for numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        # A bool is an int in Python (and pydantic's lax mode accepts it): refuse it for numbers.
        annotation = str(cls.model_fields[str(info.field_name)].annotation)
        if isinstance(value, bool) and ("int" in annotation or "float" in annotation):
            raise ValueError("a boolean is not a number")
        return value


def _as_list(value: Any) -> Any:
    # `-c nova-cpt:availability_zones=us-east-1a,us-east-1b` (or a JSON list) arrives as text.
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class SharedConfig(_Config):
    """What the cluster and the pipeline both know: the region, the model, its replica limit, log retention."""

    region: Annotated[
        NovaRegion,
        _allowed(
            "one of " + ", ".join(IMAGE_ACCOUNTS) + " (regions with Nova CPT images), equal to the CDK "
            "environment's region when that is known"
        ),
    ] = "us-east-1"
    model: Annotated[
        str,
        _allowed(
            "one of "
            + ", ".join(f"{key} ({m.label})" for key, m in BY_KEY.items())
            + " (the Nova model the cluster trains; a recipe for another model is refused, naming this key)"
        ),
    ] = "lite"
    max_replicas: Annotated[
        int,
        _allowed(
            "a replica count of the chosen model: "
            + "; ".join(f"{key} {', '.join(map(str, m.replicas))}" for key, m in BY_KEY.items())
            + " (most instances a run may use; a larger recipe is refused, naming this key)"
        ),
    ] = Field(default=16, validate_default=True)
    log_retention_days: Annotated[
        int,
        _allowed(
            "one of the CloudWatch Logs retention periods "
            + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            + " (days; every function's and the state machine's log group)"
        ),
    ] = 90

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        if value not in BY_KEY:
            raise ValueError("not a Nova model with CPT")
        return value

    @field_validator("max_replicas")
    @classmethod
    def _replicas(cls, value: int, info: ValidationInfo) -> int:
        model = info.data.get("model")
        if model in BY_KEY and value not in BY_KEY[model].replicas:
            raise ValueError(f"not a replica count of Nova {model}")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError("not a CloudWatch Logs retention period")
        return value

    @property
    def log_retention(self) -> logs.RetentionDays:
        """`log_retention_days` as the aws-cdk-lib enum member."""
        return LOG_RETENTION_DAYS[self.log_retention_days]


class StorageConfig(_Config):
    """The storage stack: how long archive objects and old versions are kept."""

    archive_transition_days: Annotated[
        int, Field(ge=30), _allowed("an integer >= 30 (days before archive objects move to Glacier Instant Retrieval)")
    ] = 90
    noncurrent_version_days: Annotated[
        int, Field(ge=1, le=3650), _allowed("an integer from 1 to 3650 (days a noncurrent object version is kept)")
    ] = 30


class ClusterConfig(SharedConfig):
    """The cluster stack: network, EKS, the HyperPod cluster and its P5 restricted instance group."""

    availability_zones: Annotated[
        tuple[str, ...],
        _allowed('a list of 2 or 3 distinct availability zone names of the region, e.g. ["us-east-1a", "us-east-1b"]'),
    ] = Field(default=("us-east-1a", "us-east-1b"), validate_default=True)
    nat_gateways: Annotated[
        Annotated[int, Field(ge=1)] | None,
        _allowed(
            "an integer from 1 to the number of availability_zones (NAT gateways of the cluster's subnets), "
            "or null for one per zone"
        ),
    ] = Field(default=None, validate_default=True)
    rig_availability_zone: Annotated[
        str | None, _allowed("one of availability_zones (where your P5 capacity is), or null for the first")
    ] = None
    vpc_cidr: Annotated[str, _allowed('a private (RFC 1918) IPv4 /16 network such as "10.192.0.0/16"')] = (
        "10.192.0.0/16"
    )
    capacity_mode: Annotated[
        Literal["on-demand", "always-on"],
        _allowed('"on-demand" (no P5 instance at rest; scaled up per run) or "always-on"'),
    ] = "on-demand"
    cluster_name: Annotated[
        str,
        _allowed(
            "a HyperPod cluster name: letters, digits and hyphens, at most 63 characters "
            "(the cluster created; its EKS cluster is <name>-eks)"
        ),
    ] = "nova-cpt"
    existing_cluster_name: Annotated[
        str | None,
        _allowed(
            "the name of an existing HyperPod cluster to use (creates no VPC, EKS or HyperPod cluster), "
            "or null to create one"
        ),
    ] = None
    existing_eks_cluster_name: Annotated[
        str | None,
        _allowed(
            "the name of the existing cluster's EKS cluster, set together with existing_cluster_name "
            "(both null to create a cluster)"
        ),
    ] = Field(default=None, validate_default=True)
    instance_group_name: Annotated[
        str, _allowed("a restricted instance group name: letters, digits and hyphens, at most 63 characters")
    ] = "nova-p5"
    fsx_size_gib: Annotated[
        int, _allowed("1200 or a multiple of 2400, up to 100800 (GiB of the RIG's FSx for Lustre file system)")
    ] = 1200
    fsx_throughput_mbps_per_tib: Annotated[
        int, _allowed("one of " + ", ".join(map(str, FSX_THROUGHPUTS)) + " (FSx for Lustre MB/s per TiB)")
    ] = 250
    instance_volume_gb: Annotated[
        int,
        Field(ge=1, le=16384),
        _allowed("an integer from 1 to 16384 (GB of the extra EBS volume of each P5 instance)"),
    ] = 500
    training_plan_arn: Annotated[
        str | None,
        _allowed(
            "the ARN of a SageMaker training plan in the region "
            "(arn:aws:sagemaker:<region>:<account>:training-plan/<name>), or null for on-demand capacity"
        ),
    ] = None
    deep_health_checks: Annotated[
        bool, _allowed("true or false (run InstanceStress and InstanceConnectivity checks on new instances)")
    ] = True
    kubernetes_version: Annotated[
        KubernetesVersion, _allowed('one of "1.31", "1.32", "1.33", "1.34" (EKS versions HyperPod supports)')
    ] = "1.33"
    eks_public_access_cidrs: Annotated[
        tuple[str, ...],
        _allowed("a list of IPv4 CIDRs allowed to reach a public EKS endpoint, or [] for a private endpoint only"),
    ] = ()
    eks_admin_principal_arns: Annotated[
        tuple[str, ...], _allowed("a list of IAM role or user ARNs given EKS cluster-admin access, or []")
    ] = ()

    @field_validator("availability_zones", "eks_public_access_cidrs", "eks_admin_principal_arns", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("availability_zones")
    @classmethod
    def _zones(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        region = info.data.get("region")
        if not 2 <= len(value) <= 3 or len(set(value)) != len(value):
            raise ValueError("not 2 or 3 distinct zones")
        if region and not all(re.fullmatch(re.escape(region) + "[a-z]", zone) for zone in value):
            raise ValueError(f"not zones of {region}")
        return value

    @field_validator("rig_availability_zone")
    @classmethod
    def _rig_zone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and value not in info.data.get("availability_zones", ()):
            raise ValueError("not one of availability_zones")
        return value

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        network = ipaddress.ip_network(value, strict=True)
        if network.version != 4 or network.prefixlen != 16 or not network.is_private:
            raise ValueError("not a private IPv4 /16")
        return value

    @field_validator("nat_gateways")
    @classmethod
    def _nat_gateways(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value > len(info.data.get("availability_zones", ())):
            raise ValueError("more NAT gateways than availability zones")
        return value

    @field_validator("eks_public_access_cidrs")
    @classmethod
    def _public_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            if ipaddress.ip_network(cidr, strict=True).version != 4:
                raise ValueError("not an IPv4 CIDR")
        return value

    @field_validator("cluster_name", "existing_cluster_name", "instance_group_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.fullmatch(value):
            raise ValueError("not a HyperPod name")
        return value

    @field_validator("existing_eks_cluster_name")
    @classmethod
    def _existing_pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (value is None) != (info.data.get("existing_cluster_name") is None):
            raise ValueError("set existing_cluster_name and existing_eks_cluster_name together")
        if value is not None and not re.fullmatch(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}", value):
            raise ValueError("not an EKS cluster name")
        return value

    @field_validator("fsx_size_gib")
    @classmethod
    def _fsx_size(cls, value: int) -> int:
        if not 1200 <= value <= 100800 or (value != 1200 and value % 2400):
            raise ValueError("not an FSx for Lustre size")
        return value

    @field_validator("fsx_throughput_mbps_per_tib")
    @classmethod
    def _fsx_throughput(cls, value: int) -> int:
        if value not in FSX_THROUGHPUTS:
            raise ValueError("not an FSx for Lustre throughput tier")
        return value

    @field_validator("training_plan_arn")
    @classmethod
    def _training_plan(cls, value: str | None, info: ValidationInfo) -> str | None:
        region = info.data.get("region", "[a-z0-9-]+")
        pattern = rf"arn:aws[a-z-]*:sagemaker:{region}:[0-9]{{12}}:training-plan/\S+"
        if value is not None and not re.fullmatch(pattern, value):
            raise ValueError("not a training plan ARN of the region")
        return value

    @field_validator("eks_admin_principal_arns")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not all(_IAM_PRINCIPAL.fullmatch(arn) for arn in value):
            raise ValueError("not IAM role or user ARNs")
        return value

    @property
    def rig_zone(self) -> str:
        """The availability zone of the restricted instance group's subnet."""
        return self.rig_availability_zone or self.availability_zones[0]

    @property
    def resting_count(self) -> int:
        """P5 instances in the restricted instance group between runs."""
        return self.max_replicas if self.capacity_mode == "always-on" else 0


class PipelineConfig(SharedConfig):
    """The pipeline stack: notifications, the cost guard, polling and the dataset validation fan-out."""

    notification_email: Annotated[
        str | None, _allowed('an e-mail address such as "ml-team@example.com", or null for no notifications')
    ] = None
    budget_instance_hours: Annotated[
        Annotated[float, Field(gt=0)] | None,
        _allowed(
            "a number > 0 (most P5 instance-hours a run may be estimated at: a larger estimate stops the run "
            f"before any spend; default {DEFAULT_BUDGET_INSTANCE_HOURS:g}), or null for no guard"
        ),
    ] = DEFAULT_BUDGET_INSTANCE_HOURS
    price_per_instance_hour: Annotated[
        Annotated[float, Field(gt=0)] | None,
        _allowed("a number > 0 (USD per ml.p5.48xlarge instance-hour, for estimates), or null"),
    ] = None
    max_poll_hours: Annotated[
        float,
        Field(gt=0, le=240),
        _allowed("a number > 0 and <= 240 (hours a training job may run before it is cancelled)"),
    ] = 72.0
    max_stuck_minutes: Annotated[
        float,
        Field(ge=5, le=1440),
        _allowed(
            "a number from 5 to 1440 (minutes a job's pods may stay Pending, fail to pull their image or "
            "crash-loop before the job is cancelled: JobStuck)"
        ),
    ] = 30.0
    poll_interval_seconds: Annotated[
        int, Field(ge=30, le=3600), _allowed("an integer from 30 to 3600 (seconds between job status polls)")
    ] = 300
    validation_shard_gib: Annotated[
        int,
        Field(ge=1, le=64),
        _allowed("an integer from 1 to 64 (GiB of a dataset one validation invocation scans)"),
    ] = 16
    validation_concurrency: Annotated[
        int, Field(ge=1, le=1000), _allowed("an integer from 1 to 1000 (dataset shards validated at once)")
    ] = 32
    max_capacity_wait_minutes: Annotated[
        int,
        Field(ge=10, le=720),
        _allowed(
            "an integer from 10 to 720 (minutes a run waits for its P5 instances before it fails: CapacityUnavailable)"
        ),
    ] = 120
    max_near_duplicate_rate: Annotated[
        Annotated[float, Field(ge=0, le=1)] | None,
        _allowed(
            "a number from 0 to 1 (most share of records that are near copies; over it the run fails "
            "before any capacity), or null for a warning only"
        ),
    ] = None
    max_validation_overlap: Annotated[
        Annotated[int, Field(ge=0)] | None,
        _allowed(
            "an integer >= 0 (most validation records that copy a training record; over it the run "
            "fails before any capacity), or null for a warning only"
        ),
    ] = None
    max_mojibake_rate: Annotated[
        Annotated[float, Field(ge=0, le=1)] | None,
        _allowed(
            "a number from 0 to 1 (most share of records with mojibake; over it the run fails before any "
            "capacity), or null for a warning only"
        ),
    ] = None
    max_queue_hours: Annotated[
        float,
        Field(gt=0, le=168),
        _allowed("a number > 0 and <= 168 (hours a run waits in line while another run holds the cluster)"),
    ] = 24.0
    max_release_hours: Annotated[
        float,
        Field(ge=1, le=24),
        _allowed("a number from 1 to 24 (hours the release workflow retries scaling the group down before it alarms)"),
    ] = 4.0

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address")
        return value


class DeploymentConfig(StorageConfig, ClusterConfig, PipelineConfig):
    """Deployment settings of the Nova CPT stacks: every stack's settings, read once from the CDK context.

    Each stack takes only its own part (StorageConfig, ClusterConfig, PipelineConfig); the context keys
    are the field names, and each field's description says what it allows.
    """

    def check_environment(self, region: str | None) -> None:
        """Raise ConfigError (one line) when the CDK environment's region is known and is not `region`."""
        if region and region != self.region:
            raise ConfigError(
                f"invalid CDK context '{CONTEXT_KEY}.region': got {self.region!r} but the CDK environment's region "
                f"(CDK_DEFAULT_REGION, from your AWS profile) is {region!r}; allowed: the same region in both "
                f"(-c {CONTEXT_KEY}:region={region} with its availability_zones, or a profile for {self.region})"
            )

    @classmethod
    def from_context(cls, get: Callable[[str], Any], keys: Iterable[str] = ()) -> DeploymentConfig:
        """Build the configuration from CDK context (`get` is e.g. ``app.node.try_get_context``).

        `keys` are all the context keys (``app.node.get_all_context()``): a ``nova-cpt:<name>`` that is
        no field stops synthesis, naming the closest field. Raises `ConfigError` (one line) on a bad or
        unknown value.
        """
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        prefix = f"{CONTEXT_KEY}:"
        unknown = sorted(k for k in keys if k.startswith(prefix) and k.removeprefix(prefix) not in cls.model_fields)
        if unknown:
            raise ConfigError("; ".join(_unknown_key(key, key.removeprefix(prefix), get(key)) for key in unknown))

        raw = get(CONTEXT_KEY)
        if isinstance(raw, str):
            with contextlib.suppress(json.JSONDecodeError):  # if not JSON: "not an object" below
                raw = json.loads(raw)
        if raw is not None:
            if not isinstance(raw, Mapping):
                raise ConfigError(
                    f"invalid CDK context {CONTEXT_KEY!r}: got {_show(raw)}; allowed: a JSON object "
                    f"with the keys {', '.join(cls.model_fields)}"
                )
            for key, value in raw.items():
                values[str(key)] = value
                sources[str(key)] = f"{CONTEXT_KEY}.{key}"

        for name in cls.model_fields:
            key = f"{CONTEXT_KEY}:{name}"
            value = get(key)
            if value is not None:
                values[name] = _null_word(value)
                sources[name] = key

        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc, values, sources)) from None


def _null_word(value: Any) -> Any:
    """`-c nova-cpt:notification_email=null` arrives as the text "null": read it as null."""
    if isinstance(value, str) and value.strip().lower() in {"null", "none"}:
        return None
    return value


def _show(value: Any) -> str:
    """A short single-line rendering of a context value."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _one_line(exc: ValidationError, values: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """Turn a pydantic error into one line per the ConfigError contract (all problems, '; '-joined)."""
    parts: list[str] = []
    seen: set[str] = set()
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in seen:
            continue  # the "float | None" union reports one value twice
        seen.add(field)
        key = sources.get(field, f"{CONTEXT_KEY}.{field}")
        value = values.get(field, error.get("input"))
        if error["type"] == "extra_forbidden":
            parts.append(_unknown_key(key, field, value))
        else:
            allowed = DeploymentConfig.model_fields[field].description if field in DeploymentConfig.model_fields else ""
            parts.append(f"invalid CDK context {key!r}: got {_show(value)}; allowed: {allowed}")
    return "; ".join(parts)


def _unknown_key(key: str, name: str, value: Any) -> str:
    """The message for a context key that is no setting: the closest setting, and every one."""
    close = difflib.get_close_matches(name, list(DeploymentConfig.model_fields), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown CDK context key {key!r} (value {_show(value)}); "
        f"allowed keys: {', '.join(DeploymentConfig.model_fields)}{hint}"
    )


SETTINGS_BEGIN: Final = "<!-- settings table: generated by `python -m stacks.config --markdown`; do not edit -->"
SETTINGS_END: Final = "<!-- end of settings table -->"
_STACKS: Final = (
    (SharedConfig, "cluster, pipeline"),
    (StorageConfig, "storage"),
    (ClusterConfig, "cluster"),
    (PipelineConfig, "pipeline"),
)


def _default(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def settings_table() -> str:
    """Every setting as a Markdown table (key, stack, default, what it allows), from the field descriptions."""
    rows = [SETTINGS_BEGIN, "", "| key | stack | default | allowed (and what it sets) |", "| --- | --- | --- | --- |"]
    done: set[str] = set()
    for model, stack in _STACKS:
        for name in model.model_fields:
            if name not in done:
                done.add(name)
                info = DeploymentConfig.model_fields[name]  # the descriptions ConfigError quotes
                allowed = str(info.description).replace("|", "\\|")
                default = _default(info.get_default(call_default_factory=True))
                rows.append(f"| `{name}` | {stack} | `{default}` | {allowed} |")
    return "\n".join([*rows, "", SETTINGS_END])


def with_settings_table(readme: str) -> str:
    """`readme` with its settings table (between SETTINGS_BEGIN and SETTINGS_END) replaced by the generated one."""
    start, end = readme.find(SETTINGS_BEGIN), readme.find(SETTINGS_END)
    if start < 0 or end < start:
        raise ValueError(f"no settings table: the README needs the lines {SETTINGS_BEGIN!r} and {SETTINGS_END!r}")
    return readme[:start] + settings_table() + readme[end + len(SETTINGS_END) :]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    match sys.argv[1:]:
        case ["--markdown"]:
            print(settings_table())
        case ["--write-readme", path]:
            Path(path).write_text(with_settings_table(Path(path).read_text(encoding="utf-8")), encoding="utf-8")
        case _:
            sys.exit("usage: python -m stacks.config --markdown | --write-readme README.md")
