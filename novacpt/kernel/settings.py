"""The Lambda environment contracts: one settings model per function family.

Each model is the single source of its functions' environment: the stack builds the variables
with `environment_of` (names are the field names, upper-cased), the handler parses them with
`from_environ`, and the emulated demo builds them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Settings read from environment variables named after the fields, upper-cased."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """The settings in `environ` (such as os.environ), validated."""
        return cls.model_validate({k.lower(): v for k, v in environ.items()})

    @classmethod
    def environment_of(cls, **values: Any) -> dict[str, str]:
        """The environment variables for these field values, as the stack writes them (CDK tokens allowed).

        Values are not validated here (a token is a placeholder); unknown and missing required fields are
        refused, so the stack and the handler cannot drift apart. None leaves a variable out.
        """
        fields = cls.model_fields
        unknown = sorted(set(values) - set(fields))
        missing = sorted(name for name, info in fields.items() if info.is_required() and values.get(name) is None)
        if unknown or missing:
            raise TypeError(f"{cls.__name__}: unknown {unknown or 'none'}, missing {missing or 'none'}")
        return {name.upper(): _text(value) for name, value in values.items() if value is not None}

    def environment(self) -> dict[str, str]:
        """These (validated) settings as environment variables."""
        return type(self).environment_of(**{k: v for k, v in self.model_dump().items() if v is not None})


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class Deployment(Settings):
    """The deployment's account, region and buckets: what every step that touches S3 knows."""

    account_id: str = Field(pattern=r"^[0-9]{12}$")
    region: str = Field(min_length=1)
    data_bucket: str = Field(min_length=3)
    output_bucket: str = Field(min_length=3)
    archive_bucket: str = Field(min_length=3)


class RecipeSettings(Deployment):
    """ValidateRecipe: the deployment, and the model and replica limit the cluster is configured for."""

    max_replicas: int | None = Field(default=None, ge=1)
    model_type: str | None = None


class DatasetSettings(Deployment):
    """PlanValidation and the shard functions: the largest byte range one ValidateShard invocation scans."""

    shard_bytes: int = Field(default=16 << 30, ge=1)


class QualityBounds(Settings):
    """Optional bounds on a dataset's corpus quality (cdk.json): over one, the run fails before any capacity."""

    max_near_duplicate_rate: float | None = Field(default=None, ge=0, le=1)
    max_validation_overlap: int | None = Field(default=None, ge=0)
    max_mojibake_rate: float | None = Field(default=None, ge=0, le=1)


class MergeSettings(Deployment, QualityBounds):
    """MergeReports: the deployment and the corpus-quality bounds."""


class EstimateSettings(Settings):
    """Estimate: budget and price, both optional."""

    budget_instance_hours: float | None = Field(default=None, gt=0)
    price_per_instance_hour: float | None = Field(default=None, gt=0)


class ClusterSettings(Settings):
    """The capacity functions: the HyperPod cluster's restricted instance group and how it is sized."""

    hyperpod_cluster_name: str = Field(min_length=1)
    instance_group: str = Field(min_length=1)
    resting_count: int = Field(default=0, ge=0)
    capacity_mode: Literal["on-demand", "always-on"] = "on-demand"


class CapacityWaitSettings(Settings):
    """How long and how often a run waits for its instances, and where the capacity comes from (for messages)."""

    poll_interval_seconds: int = Field(ge=0)
    max_capacity_wait_seconds: float = Field(gt=0)
    capacity_zone: str = ""
    training_plan: bool = False


class LeaseSettings(Settings):
    """The cluster's capacity lease and run queue: the table, and the instance group they guard."""

    lease_table: str = Field(min_length=1)
    lease_group: str = Field(min_length=1)


class ReleaseStartSettings(LeaseSettings):
    """ReleaseCapacity: the lease, and the release workflow it starts for an owner."""

    release_state_machine_arn: str = Field(min_length=1)


class QueueSettings(Deployment, LeaseSettings):
    """AcquireLease: the lease, the datasets' bucket (versions), how often to look again and how long to wait."""

    poll_interval_seconds: int = Field(ge=0)
    max_queue_seconds: float = Field(gt=0)


class ReleaseTimingSettings(LeaseSettings):
    """ScaleDown without a cluster (template tests): the lease and the release timing."""

    poll_interval_seconds: int = Field(ge=0)
    max_release_seconds: float = Field(gt=0)


class ScaleDownSettings(ClusterSettings, ReleaseTimingSettings):
    """ScaleDown (the release workflow): the instance group, the lease, how often to look and for how long."""


class WatchSettings(ClusterSettings, LeaseSettings):
    """WatchCapacity: the instance group and its lease (instances above rest with no owner are unowned)."""


class CapacitySettings(ClusterSettings, CapacityWaitSettings, LeaseSettings):
    """PrepareCapacity/CheckCapacity: the instance group, how to wait for it, and the lease (only its owner scales)."""


class JobSettings(Deployment):
    """The job functions: how to reach the cluster's Kubernetes API and where the job's logs go."""

    eks_cluster_name: str = Field(min_length=1)
    hyperpod_cluster_name: str = Field(min_length=1)
    hyperpod_cluster_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:cluster/[a-z0-9]+$")
    job_namespace: str = Field(min_length=1)


class PollTimingSettings(Settings):
    """How often to look at the job, for how long at most, and how long its pods may stay stuck."""

    poll_interval_seconds: int = Field(ge=0)
    max_poll_seconds: float = Field(gt=0)
    max_stuck_minutes: float = Field(default=30.0, gt=0)


class PollSettings(JobSettings, PollTimingSettings):
    """PollJob: the job functions' settings and the poll timing."""


class PreflightSettings(ClusterSettings, JobSettings):
    """Preflight: the instance group to look at, and the cluster's Kubernetes API (add-ons, EKS access)."""


class CleanupTargetSettings(ClusterSettings, JobSettings, LeaseSettings):
    """CleanUpAborted as its stack builds it: the lease (what the run owned) and the job to cancel."""


class CleanupSettings(CleanupTargetSettings, ReleaseStartSettings):
    """CleanUpAborted: the lease, the job to cancel and the release workflow to start (added by the stack)."""


class NotifySettings(Settings):
    """Notify: where notifications go, and the cluster whose log group they name."""

    topic_arn: str = Field(min_length=1)
    hyperpod_cluster_name: str = ""
    hyperpod_cluster_arn: str = ""


class TriggerSettings(Settings):
    """Trigger: the state machine to start, and the one bucket whose drops start it."""

    state_machine_arn: str = Field(min_length=1)
    drop_bucket: str = Field(min_length=3)
