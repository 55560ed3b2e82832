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
import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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

# Deliberately simple: one "@", no whitespace, a dot in the domain. SNS does the
# real check when the subscription confirmation mail is sent.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# What each field allows, in words, for the one-line error message.
_ALLOWED: Final[Mapping[str, str]] = {
    "archive_transition_days": "an integer >= 30 (days before archive objects move to Glacier Instant Retrieval)",
    "noncurrent_version_days": "an integer from 1 to 3650 (days a noncurrent object version is kept)",
    "log_retention_days": "one of the CloudWatch Logs retention periods "
    + ", ".join(str(d) for d in LOG_RETENTION_DAYS),
    "notification_email": 'an e-mail address such as "ml-team@example.com", or null for no notifications',
    "budget_instance_hours": "a number > 0 (most P5 instance-hours a run may be estimated at), or null for none",
    "price_per_instance_hour": "a number > 0 (USD per ml.p5.48xlarge instance-hour, for estimates), or null",
    "max_poll_hours": "a number > 0 and <= 240 (hours to wait for a training job)",
    "validation_shard_gib": "an integer from 1 to 64 (GiB of a dataset one validation invocation scans)",
    "validation_concurrency": "an integer from 1 to 1000 (dataset shards validated at once)",
    "poll_interval_seconds": "an integer from 30 to 3600 (seconds between job status polls)",
}


class ConfigError(ValueError):
    """A context value is invalid. The message is one line: key, bad value, what is allowed."""


class DeploymentConfig(BaseModel):
    """Deployment settings of the Nova CPT stacks (immutable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    archive_transition_days: Annotated[int, Field(ge=30)] = 90
    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)] = 30
    log_retention_days: int = 90
    notification_email: str | None = None
    budget_instance_hours: Annotated[float, Field(gt=0)] | None = None
    price_per_instance_hour: Annotated[float, Field(gt=0)] | None = None
    max_poll_hours: Annotated[float, Field(gt=0, le=240)] = 72.0
    poll_interval_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    validation_shard_gib: Annotated[int, Field(ge=1, le=64)] = 16
    validation_concurrency: Annotated[int, Field(ge=1, le=1000)] = 32

    @field_validator(
        "archive_transition_days",
        "noncurrent_version_days",
        "log_retention_days",
        "budget_instance_hours",
        "price_per_instance_hour",
        "max_poll_hours",
        "poll_interval_seconds",
        "validation_shard_gib",
        "validation_concurrency",
        mode="before",
    )
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        # A bool is an int in Python (and pydantic's lax mode accepts it): refuse it.
        if isinstance(value, bool):
            raise ValueError("a boolean is not a number")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError("not a CloudWatch Logs retention period")
        return value

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _EMAIL.fullmatch(value):
            raise ValueError("not an e-mail address")
        return value

    @property
    def log_retention(self) -> logs.RetentionDays:
        """`log_retention_days` as the aws-cdk-lib enum member."""
        return LOG_RETENTION_DAYS[self.log_retention_days]

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> DeploymentConfig:
        """Build the configuration from CDK context (`get` is e.g. ``app.node.try_get_context``).

        Raises `ConfigError` (one line) on a bad or unknown value.
        """
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}

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
            parts.append(
                f"unknown CDK context key {key!r} (value {_show(value)}); "
                f"allowed keys: {', '.join(DeploymentConfig.model_fields)}"
            )
        else:
            parts.append(f"invalid CDK context {key!r}: got {_show(value)}; allowed: {_ALLOWED[field]}")
    return "; ".join(parts)
