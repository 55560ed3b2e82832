"""Pydantic v2 models of a Nova 1.0 CPT recipe (the official layout) and the rules of each field.

Every field carries its rule as `description`, phrased to follow "must be ..."; the
validator turns pydantic errors into messages built from it. Rules that join two
fields live in `cross_field_problems`, shared by the model and the validator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from novacpt.catalog import BY_TYPE, MODELS
from novacpt.s3uri import split_s3_uri

CROSS_FIELD_ERROR = "nova_cross_field"
BATCH_SIZES = (32, 64, 128, 256)
LR_RECOMMENDED = (1e-6, 1e-4)

PathParts = Sequence[str | int]


@dataclass(frozen=True)
class RecipeIssue:
    """One problem (or warning) in a recipe; `field` is a dotted path, None for the whole file."""

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
    """Short, YAML-flavoured rendering of a value for messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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


_BASE_PATHS = ", ".join(m.base_path for m in MODELS)


def _model_path(value: str) -> str:
    if value.startswith("s3://"):
        _s3_key(value)
    elif value not in {m.base_path for m in MODELS}:
        raise ValueError(f"must be the base path of model_type ({_BASE_PATHS}) or the s3:// path of a checkpoint")
    return value


def _batch_size(value: int) -> int:
    if value not in BATCH_SIZES:
        raise ValueError(f"must be one of {', '.join(map(str, BATCH_SIZES))}")
    return value


# --- Rules joining two fields -------------------------------------------------------------------


def cross_field_problems(
    *,
    model_type: str | None,
    model_name_or_path: str | None,
    replicas: int | None,
    lr: float | None,
    min_lr: float | None,
) -> list[tuple[str, str]]:
    """(dotted field, message) for each broken cross-field rule; None values are not checked."""
    problems: list[tuple[str, str]] = []
    model = BY_TYPE.get(model_type) if model_type is not None else None
    if (
        model
        and model_name_or_path is not None
        and not model_name_or_path.startswith("s3://")
        and model_name_or_path != model.base_path
    ):
        problems.append(
            (
                "run.model_name_or_path",
                f"{describe_value(model_name_or_path)} is not allowed: must be {model.base_path!r} for "
                f"model_type {model.model_type} (or the s3:// path of a checkpoint)",
            )
        )
    if model and replicas is not None and replicas not in model.replicas:
        allowed = ", ".join(map(str, model.replicas))
        problems.append(
            (
                "run.replicas",
                f"{replicas} is not allowed: must be one of {allowed} for {model.model_type}",
            )
        )
    if lr is not None and min_lr is not None and not min_lr < lr:
        problems.append(
            (
                "training_config.model.optim.sched.min_lr",
                f"{describe_value(min_lr)} is not allowed: must be lower than lr ({describe_value(lr)})",
            )
        )
    return problems


# --- Models -------------------------------------------------------------------------------------

_REPLICA_SETS = "; ".join(f"{m.key} {', '.join(map(str, m.replicas))}" for m in MODELS)

Unit = Annotated[float, Field(ge=0, le=1, description="a number from 0 to 1")]
Beta = Annotated[float, Field(ge=0, lt=1)]
OptionalText = Annotated[str | None, Field(description="text (or null)")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, protected_namespaces=())


class RunConfig(_Section):
    """`run:` — what to train, on how many instances, and where data and output live."""

    name: Annotated[
        str,
        Field(
            max_length=53,
            pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            description="a DNS-1123 label of at most 53 characters: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit",
        ),
    ]
    model_type: Annotated[str, AfterValidator(_model_type), Field(description=f"one of {', '.join(BY_TYPE)}")]
    model_name_or_path: Annotated[
        str,
        AfterValidator(_model_path),
        Field(description=f"the base path of model_type ({_BASE_PATHS}) or the s3:// path of a checkpoint"),
    ]
    replicas: Annotated[int, Field(ge=1, description=f"an instance count allowed for the model ({_REPLICA_SETS})")]
    data_s3_path: Annotated[
        str, AfterValidator(_dataset_uri), Field(description="an s3://bucket/key.jsonl URI (text)")
    ] = ""
    validation_data_s3_path: Annotated[
        str | None,
        AfterValidator(_optional_dataset_uri),
        Field(description="empty or an s3://bucket/key.jsonl URI (text)"),
    ] = None
    output_s3_path: Annotated[
        str, AfterValidator(_output_uri), Field(description="an s3://bucket or s3://bucket/prefix URI (text)")
    ] = ""
    mlflow_tracking_uri: OptionalText = None
    mlflow_experiment_name: OptionalText = None
    mlflow_run_name: OptionalText = None


class TrainerConfig(_Section):
    """`training_config.trainer:`."""

    max_epochs: Annotated[int, Field(ge=1, le=100, description="an integer from 1 to 100")]


class SchedConfig(_Section):
    """`training_config.model.optim.sched:` — the learning-rate schedule."""

    warmup_steps: Annotated[int, Field(ge=1, le=20, description="an integer from 1 to 20")]
    constant_steps: Annotated[int, Field(ge=0, description="an integer of 0 or more")]
    min_lr: Annotated[float, Field(ge=0, le=1, description="a number from 0 to 1, lower than lr")]


class OptimConfig(_Section):
    """`training_config.model.optim:` — the optimizer."""

    lr: Annotated[
        float,
        Field(gt=0, le=1, description="a number above 0 and at most 1 (1e-6 to 1e-4 recommended)"),
    ]
    name: Annotated[
        Literal["distributed_fused_adam"],
        Field(description="distributed_fused_adam (the only supported optimizer)"),
    ]
    adam_w_mode: Annotated[bool, Field(description="true or false")]
    eps: Annotated[float, Field(gt=0, description="a number above 0")]
    weight_decay: Annotated[float, Field(ge=0, le=1, description="a number from 0 to 1")]
    betas: Annotated[
        list[Beta],
        Field(
            min_length=2,
            max_length=2,
            description="a list of exactly two numbers, each at least 0 and below 1",
        ),
    ]
    sched: SchedConfig


class ModelConfig(_Section):
    """`training_config.model:` — dropout and the optimizer."""

    hidden_dropout: Unit
    attention_dropout: Unit
    ffn_dropout: Unit
    optim: OptimConfig


class TrainingConfig(_Section):
    """`training_config:`."""

    max_length: Annotated[int, Field(ge=1, le=8192, description="an integer from 1 to 8192")]
    global_batch_size: Annotated[
        int,
        AfterValidator(_batch_size),
        Field(description=f"one of {', '.join(map(str, BATCH_SIZES))}"),
    ]
    trainer: TrainerConfig
    model: ModelConfig


class NovaCptRecipe(_Section):
    """A complete Nova 1.0 CPT recipe for SageMaker HyperPod."""

    run: RunConfig
    training_config: TrainingConfig

    @model_validator(mode="after")
    def _cross_fields(self) -> NovaCptRecipe:
        optim = self.training_config.model.optim
        problems = cross_field_problems(
            model_type=self.run.model_type,
            model_name_or_path=self.run.model_name_or_path,
            replicas=self.run.replicas,
            lr=optim.lr,
            min_lr=optim.sched.min_lr,
        )
        if problems:
            detail = "; ".join(f"{field}: {message}" for field, message in problems)
            raise PydanticCustomError(CROSS_FIELD_ERROR, "{detail}", {"detail": detail})
        return self


# --- Schema look-ups ----------------------------------------------------------------------------


def _section_class(info: FieldInfo) -> type[_Section] | None:
    annotation = info.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, _Section) else None


def _resolve(parts: PathParts) -> tuple[type[_Section] | None, FieldInfo | None]:
    """The section class and field found at a path (a list index stays on its list field)."""
    section: type[_Section] | None = NovaCptRecipe
    info: FieldInfo | None = None
    for part in parts:
        if section is None:
            break
        if not isinstance(part, str) or part not in section.model_fields:
            return None, None
        info = section.model_fields[part]
        section = _section_class(info)
    return section, info


def section_keys(parts: PathParts) -> list[str]:
    """Keys allowed in the section at `parts`, empty when `parts` is not a section."""
    section, _ = _resolve(parts)
    return list(section.model_fields) if section else []


def field_rule(parts: PathParts) -> str | None:
    """What the field at `parts` must be ("an integer from 1 to 8192"), or None when unknown."""
    section, info = _resolve(parts)
    if section is not None:
        return f"a mapping with the keys {', '.join(section.model_fields)}"
    return info.description if info else None


def schema_paths() -> list[str]:
    """Every dotted key of the schema, sections included, in layout order."""
    paths: list[str] = []

    def walk(section: type[_Section], prefix: str) -> None:
        for name, info in section.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            paths.append(path)
            child = _section_class(info)
            if child:
                walk(child, path)

    walk(NovaCptRecipe, "")
    return paths
