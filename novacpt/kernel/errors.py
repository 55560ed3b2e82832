"""Errors the state machine routes on: their class names become the Step Functions error names.

Validation failures are never retried; TransientError is (throttling, 5xx, timeouts).
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError


class PipelineError(Exception):
    """A failure with a message that tells the user what to fix, and where."""


class RecipeInvalid(PipelineError):
    """The recipe breaks a rule; nothing was started."""


class DatasetInvalid(PipelineError):
    """A dataset breaks a rule; nothing was started."""


class BudgetExceeded(PipelineError):
    """The estimate is over the configured instance-hour budget."""


class CapacityUnavailable(PipelineError):
    """The cluster could not get the instances the recipe asks for."""


class PreflightFailed(PipelineError):
    """A check before capacity failed (quota, instance group, add-ons, EKS access); nothing was scaled."""


class ClusterBusy(PipelineError):
    """The cluster is being updated and cannot be resized now; the state machine retries for a while."""


class ReleaseStuck(PipelineError):
    """The instance group did not get back to its resting size within the release bound; someone must act."""


class DatasetChanged(PipelineError):
    """A dataset was replaced after it was validated; the unvalidated bytes are not trained on."""


class JobFailed(PipelineError):
    """The training job ended in failure."""


class JobStuck(PipelineError):
    """The job's pods stayed stuck (Pending, image pull, crash loop, init failure) past max_stuck_minutes."""


class JobTimedOut(PipelineError):
    """The job was still running after max_poll_hours; it is cancelled (raised by the state machine itself)."""


class OutputsMissing(PipelineError):
    """The job succeeded but its outputs are not where they should be."""


class TransientError(PipelineError):
    """A temporary AWS failure; the state machine retries with backoff and jitter."""


_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
        "ProvisionedThroughputExceededException",  # DynamoDB
        "TransactionConflict",  # DynamoDB
    }
)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError ("Unknown" when the answer has none)."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: throttling, 5xx answers and network timeouts."""
    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in _TRANSIENT_CODES or status >= 500
    return False


def error_message(exc: BaseException) -> str:
    """The AWS error message of a ClientError, else the exception's text."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", ""))
    return str(exc)


def aws_failure(
    action: str, exc: ClientError | BotoCoreError, *, service: str, explain: Callable[[str], str] | None = None
) -> PipelineError:
    """The one translation of an AWS SDK error: TransientError (retried) when temporary, else PipelineError.

    `action` says what was being done (an S3 URI, "SageMaker UpdateCluster on <cluster>"); `explain(code)`
    may turn a permanent error code into what to fix.
    """
    code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    if is_transient(exc):
        return TransientError(f"{action}: temporary {service} error ({code}), retrying")
    reason = explain(code) if explain else f"{code}: {error_message(exc)}".strip()
    return PipelineError(f"{action}: {reason}")
