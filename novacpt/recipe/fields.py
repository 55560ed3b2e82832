"""What both recipe generations share: issues, paths, value rules and the `run:` section.

Every field carries its rule as `description`, phrased to follow "must be ..."; the
validator turns pydantic errors into messages built from it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from novacpt.catalog import BY_TYPE, MODELS, replica_sets
from novacpt.kernel.s3uri import split_s3_uri
from novacpt.recipe.checkpoint import checkpoint_problem

BATCH_SIZES = (32, 64, 128, 256)
LR_RECOMMENDED = (1e-6, 1e-4)
MAX_COUNT = 1_000_000  # bound of every step or batch count: far above any real recipe, far below a hostile one
MAX_TEXT = 2048  # characters of any recipe text value

PathParts = Sequence[str | int]


@dataclass(frozen=True)
class RecipeIssue:
    """One problem, warning or note in a recipe; `field` is a dotted path, None for the whole file."""

    field: str | None
    message: str

    def to_dict(self) -> dict[str, str | None]:
        """The issue as JSON-ready data."""
        return {"field": self.field, "message": self.message}


def format_path(parts: PathParts) -> str:
    """Dotted path of a location: ("run", "name") -> "run.name", list items as "betas[1]"."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def describe_value(value: Any) -> str:
    """Short, YAML-flavoured rendering of a value for messages (control characters escaped)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, int) and abs(value) >= 10**30:
        text = f"an integer of {len(str(abs(value)))} digits"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- Text ---------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Refuse control characters and lone surrogates: they would reach the ConfigMap and the logs."""
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs"):
            kind = "a control character" if category == "Cc" else "a lone surrogate"
            raise ValueError(f"must not contain {kind} (U+{ord(char):04X} at position {index})")
    return value


Text = Annotated[str, AfterValidator(_text), Field(max_length=MAX_TEXT)]
OptionalText = Annotated[Text | None, Field(description="text (or null)")]


# --- S3 locations -------------------------------------------------------------------------------


def _s3_key(uri: str) -> str:
    """The key (or prefix) of an s3:// URI; ValueError saying what is wrong otherwise."""
    return split_s3_uri(uri)[1]


def _dataset_uri(uri: str) -> str:
    if uri:
        key = _s3_key(uri)
        file_name = key.rsplit("/", 1)[-1]
        if not file_name.endswith(".jsonl") or file_name == ".jsonl":
            raise ValueError("must name a .jsonl file: s3://bucket/key.jsonl")
    return uri


def _optional_dataset_uri(uri: str | None) -> str | None:
    return _dataset_uri(uri) if uri else uri


def _output_uri(uri: str) -> str:
    if uri:
        _s3_key(uri)
    return uri


def _model_type(value: str) -> str:
    if value not in BY_TYPE:
        raise ValueError(f"must be one of {', '.join(BY_TYPE)}")
    return value


BASE_PATHS = ", ".join(m.base_path for m in MODELS)


def _model_path(value: str) -> str:
    if value.startswith("s3://"):
        problem = checkpoint_problem(value)
        if problem:
            raise ValueError(problem)
    elif value not in {m.base_path for m in MODELS}:
        raise ValueError(
            f"must be the base path of model_type ({BASE_PATHS}) or the s3://customer-escrow-... path of a checkpoint"
        )
    return value


def _batch_size(value: int) -> int:
    if value not in BATCH_SIZES:
        raise ValueError(f"must be one of {', '.join(map(str, BATCH_SIZES))}")
    return value


# --- Field types --------------------------------------------------------------------------------

Unit = Annotated[float, Field(ge=0, le=1, description="a number from 0 to 1")]
Beta = Annotated[float, Field(ge=0, lt=1, description="a number at least 0 and below 1")]
MaxLength = Annotated[int, Field(ge=1, le=8192, description="an integer from 1 to 8192")]
BatchSize = Annotated[int, AfterValidator(_batch_size), Field(description=f"one of {', '.join(map(str, BATCH_SIZES))}")]
LearningRate = Annotated[
    float, Field(gt=0, le=1, description="a number above 0 and at most 1 (1e-6 to 1e-4 recommended)")
]
Epsilon = Annotated[float, Field(gt=0, le=1, description="a number above 0 and at most 1")]


class Section(BaseModel):
    """A recipe section: unknown keys refused, no type coercion, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, protected_namespaces=())


class RunConfig(Section):
    """`run:` — what to train, on how many instances, and where data and output live (both generations)."""

    name: Annotated[
        str,
        Field(
            max_length=53,
            pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$",
            description="a DNS-1123 label of at most 53 characters: lowercase letters, digits and '-', "
            "starting with a letter (the training operator refuses a job name that does not) and ending with "
            "a letter or digit",
        ),
    ]
    model_type: Annotated[str, AfterValidator(_model_type), Field(description=f"one of {', '.join(BY_TYPE)}")]
    model_name_or_path: Annotated[
        Text,
        AfterValidator(_model_path),
        Field(description=f"the base path of model_type ({BASE_PATHS}) or the s3://customer-escrow-... checkpoint"),
    ]
    replicas: Annotated[
        int, Field(ge=1, le=256, description=f"an instance count allowed for the model ({replica_sets()})")
    ]
    data_s3_path: Annotated[
        Text, AfterValidator(_dataset_uri), Field(description="an s3://bucket/key.jsonl URI (text)")
    ] = ""
    validation_data_s3_path: Annotated[
        Text | None,
        AfterValidator(_optional_dataset_uri),
        Field(description="empty or an s3://bucket/key.jsonl URI (text)"),
    ] = None
    output_s3_path: Annotated[
        Text, AfterValidator(_output_uri), Field(description="an s3://bucket or s3://bucket/prefix URI (text)")
    ] = ""
    mlflow_tracking_uri: OptionalText = None
    mlflow_experiment_name: OptionalText = None
    mlflow_run_name: OptionalText = None


class SchedConfig(Section):
    """`optim.sched:` — the learning-rate schedule."""

    warmup_steps: Annotated[int, Field(ge=1, le=20, description="an integer from 1 to 20")]
    constant_steps: Annotated[int, Field(ge=0, le=MAX_COUNT, description=f"an integer from 0 to {MAX_COUNT:,}")]
    min_lr: Annotated[float, Field(ge=0, le=1, description="a number from 0 to 1, lower than lr")]
