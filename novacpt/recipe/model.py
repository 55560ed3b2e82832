"""Pydantic v2 models of the Nova 1.0 and Nova 2.0 CPT recipes (the official layouts) and their rules.

`run.model_type` chooses the generation (`recipe_class`). Nova 1.0 counts epochs and nests
`optim` inside `model`; Nova 2.0 counts steps, puts `optim` beside `model`, takes
`adam_beta1`/`adam_beta2` and has no `ffn_dropout` (domain facts sections 3 and 3b).
Rules that join two fields live in `cross_field_problems`, shared by the models and the validator.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from novacpt.catalog import BY_TYPE, Generation, NovaModel
from novacpt.recipe.fields import (
    MAX_COUNT,
    BatchSize,
    Beta,
    Epsilon,
    LearningRate,
    MaxLength,
    PathParts,
    RecipeIssue,
    RunConfig,
    SchedConfig,
    Section,
    Unit,
    describe_value,
    format_path,
)

CROSS_FIELD_ERROR = "nova_cross_field"
MAX_STEPS_RANGE = (10, 100_000)  # Nova 2.0 trainer.max_steps (official recipe and launcher override spec)

__all__ = [
    "CROSS_FIELD_ERROR",
    "MAX_STEPS_RANGE",
    "Nova2CptRecipe",
    "NovaCptRecipe",
    "Recipe",
    "RecipeIssue",
    "cross_field_problems",
    "describe_value",
    "field_rule",
    "format_path",
    "generation_hint",
    "lr_paths",
    "proven_recipe",
    "recipe_class",
    "schema_location",
    "schema_paths",
    "section_keys",
]


# --- Rules joining two fields -------------------------------------------------------------------


def cross_field_problems(
    *,
    model_type: str | None,
    model_name_or_path: str | None,
    replicas: int | None,
    lr: float | None,
    min_lr: float | None,
    min_lr_path: str,
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
        other = next((m for m in BY_TYPE.values() if m.base_path == model_name_or_path), None)
        which = f" ({model_name_or_path} is the {other.label} base model)" if other else ""
        problems.append(
            (
                "run.model_name_or_path",
                f"{describe_value(model_name_or_path)} is not allowed: must be {model.base_path!r} for "
                f"model_type {model.model_type}{which} (or the s3:// path of a checkpoint)",
            )
        )
    if model and replicas is not None and replicas not in model.replicas:
        allowed = ", ".join(map(str, model.replicas))
        problems.append(("run.replicas", f"{replicas} is not allowed: must be one of {allowed} for {model.label}"))
    if lr is not None and min_lr is not None and not min_lr < lr:
        problems.append(
            (min_lr_path, f"{describe_value(min_lr)} is not allowed: must be lower than lr ({describe_value(lr)})")
        )
    return problems


# --- Nova 1.0 -----------------------------------------------------------------------------------


class TrainerConfig(Section):
    """`training_config.trainer:` (Nova 1.0 counts epochs)."""

    max_epochs: Annotated[int, Field(ge=1, le=100, description="an integer from 1 to 100")]


class OptimConfig(Section):
    """`training_config.model.optim:` — the Nova 1.0 optimizer."""

    lr: LearningRate
    name: Annotated[
        Literal["distributed_fused_adam"], Field(description="distributed_fused_adam (the only supported optimizer)")
    ]
    adam_w_mode: Annotated[bool, Field(description="true or false")]
    eps: Epsilon
    weight_decay: Unit
    betas: Annotated[
        list[Beta],
        Field(min_length=2, max_length=2, description="a list of exactly two numbers, each at least 0 and below 1"),
    ]
    sched: SchedConfig


class ModelConfig(Section):
    """`training_config.model:` — dropout and the optimizer (Nova 1.0)."""

    hidden_dropout: Unit
    attention_dropout: Unit
    ffn_dropout: Unit
    optim: OptimConfig


class TrainingConfig(Section):
    """`training_config:` (Nova 1.0)."""

    max_length: MaxLength
    global_batch_size: BatchSize
    trainer: TrainerConfig
    model: ModelConfig


class _Recipe(Section):
    """What both generations answer."""

    run: RunConfig

    @property
    def nova_model(self) -> NovaModel:
        """The catalogue entry of `run.model_type` (a valid recipe always has one)."""
        return BY_TYPE[self.run.model_type]

    @property
    def generation(self) -> Generation:
        """ "1.0" or "2.0"."""
        return self.nova_model.generation

    def _check_cross_fields(self, lr: float, min_lr: float, min_lr_path: str) -> None:
        problems = cross_field_problems(
            model_type=self.run.model_type,
            model_name_or_path=self.run.model_name_or_path,
            replicas=self.run.replicas,
            lr=lr,
            min_lr=min_lr,
            min_lr_path=min_lr_path,
        )
        if problems:
            detail = "; ".join(f"{field}: {message}" for field, message in problems)
            raise PydanticCustomError(CROSS_FIELD_ERROR, "{detail}", {"detail": detail})


class NovaCptRecipe(_Recipe):
    """A complete Nova 1.0 CPT recipe for SageMaker HyperPod."""

    training_config: TrainingConfig

    @property
    def max_epochs(self) -> int:
        """Passes over the data."""
        return self.training_config.trainer.max_epochs

    @model_validator(mode="after")
    def _cross_fields(self) -> NovaCptRecipe:
        sched = self.training_config.model.optim.sched
        _, min_lr_path = lr_paths("1.0")
        self._check_cross_fields(self.training_config.model.optim.lr, sched.min_lr, min_lr_path)
        return self


# --- Nova 2.0 -----------------------------------------------------------------------------------


def _val_check_interval(value: int | float) -> int | float:
    if isinstance(value, float) and not 0 < value <= 1:
        raise ValueError("a fraction must be above 0 and at most 1.0 (or give an integer step count)")
    if isinstance(value, int) and not 1 <= value <= MAX_COUNT:
        raise ValueError(f"a step count must be from 1 to {MAX_COUNT:,} (or give a fraction such as 0.25)")
    return value


def _limit_val_batches(value: int | float) -> int | float:
    if isinstance(value, float) and not 0 <= value <= 1:
        raise ValueError("a fraction must be from 0 to 1.0 (or give an integer batch count)")
    if isinstance(value, int) and not 0 <= value <= MAX_COUNT:
        raise ValueError(f"a batch count must be from 0 to {MAX_COUNT:,} (or give a fraction such as 0.5)")
    return value


class Trainer2Config(Section):
    """`training_config.trainer:` (Nova 2.0 counts steps)."""

    max_steps: Annotated[
        int,
        Field(
            ge=MAX_STEPS_RANGE[0],
            le=MAX_STEPS_RANGE[1],
            description=f"an integer from {MAX_STEPS_RANGE[0]} to {MAX_STEPS_RANGE[1]:,} "
            "(`cpt plan` suggests one for your dataset)",
        ),
    ]
    val_check_interval: Annotated[
        int | float | None,
        AfterValidator(lambda v: v if v is None else _val_check_interval(v)),
        Field(description="steps between validations: an integer count, or a fraction above 0 and at most 1.0"),
    ] = None
    limit_val_batches: Annotated[
        int | float | None,
        AfterValidator(lambda v: v if v is None else _limit_val_batches(v)),
        Field(description="validation batches each time: an integer count, or a fraction from 0 to 1.0"),
    ] = None


class Model2Config(Section):
    """`training_config.model:` — dropout (Nova 2.0: no ffn_dropout, optim beside model)."""

    hidden_dropout: Unit
    attention_dropout: Unit


class Optim2Config(Section):
    """`training_config.optim:` — the Nova 2.0 optimizer."""

    optimizer: Annotated[Literal["adam"], Field(description="adam (do not change)")] = "adam"
    lr: LearningRate
    name: Annotated[
        Literal["distributed_fused_adam"], Field(description="distributed_fused_adam (the only supported optimizer)")
    ]
    adam_w_mode: Annotated[bool, Field(description="true or false")]
    eps: Epsilon
    weight_decay: Unit
    adam_beta1: Beta
    adam_beta2: Beta
    sched: SchedConfig


class Training2Config(Section):
    """`training_config:` (Nova 2.0)."""

    task_type: Annotated[
        Literal["cpt"], Field(description="cpt (this tool runs continued pre-training; other tasks use other images)")
    ]
    max_length: MaxLength
    global_batch_size: BatchSize
    trainer: Trainer2Config
    model: Model2Config
    optim: Optim2Config


class Nova2CptRecipe(_Recipe):
    """A complete Nova 2.0 CPT recipe for SageMaker HyperPod."""

    training_config: Training2Config

    @property
    def max_epochs(self) -> None:
        """Nova 2.0 counts steps, not epochs."""
        return None

    @model_validator(mode="after")
    def _cross_fields(self) -> Nova2CptRecipe:
        optim = self.training_config.optim
        _, min_lr_path = lr_paths("2.0")
        self._check_cross_fields(optim.lr, optim.sched.min_lr, min_lr_path)
        return self


Recipe = NovaCptRecipe | Nova2CptRecipe
_CLASSES: dict[Generation, type[NovaCptRecipe] | type[Nova2CptRecipe]] = {"1.0": NovaCptRecipe, "2.0": Nova2CptRecipe}


def lr_paths(generation: Generation) -> tuple[str, str]:
    """Dotted paths of lr and min_lr in a recipe of `generation`."""
    optim = "training_config.model.optim" if generation == "1.0" else "training_config.optim"
    return f"{optim}.lr", f"{optim}.sched.min_lr"


def recipe_generation(mapping: dict[Any, Any]) -> Generation:
    """The generation a recipe is checked as: that of its model_type, else the one its layout follows."""
    run = mapping.get("run")
    model_type = run.get("model_type") if isinstance(run, dict) else None
    model = BY_TYPE.get(model_type) if isinstance(model_type, str) else None
    if model is not None:
        return model.generation
    tc = mapping.get("training_config")
    tc = tc if isinstance(tc, dict) else {}
    trainer = tc.get("trainer") if isinstance(tc.get("trainer"), dict) else {}
    v2_shape = "task_type" in tc or "optim" in tc or "max_steps" in (trainer or {})
    return "2.0" if v2_shape else "1.0"


def recipe_class(mapping: dict[Any, Any]) -> type[NovaCptRecipe] | type[Nova2CptRecipe]:
    """The model a recipe mapping is validated with (see `recipe_generation`)."""
    return _CLASSES[recipe_generation(mapping)]


def proven_recipe(values: dict[str, Any]) -> Recipe:
    """A recipe a validation already proved, read back from its JSON form: built, not validated again.

    Only the layout is followed (each section becomes its model, the keys set stay the keys set);
    a key that no section has is refused.
    """
    return cast(Recipe, _construct(recipe_class(values), values))


def _construct(section: type[Section], values: dict[Any, Any]) -> Section:
    fields: dict[str, Any] = {}
    for name, value in values.items():
        info = section.model_fields.get(name)
        if info is None:
            raise ValueError(f"{name!r} is no key of {section.__name__}: not a recipe that was validated")
        child = _section_class(info)
        fields[name] = _construct(child, value) if child is not None and isinstance(value, dict) else value
    return section.model_construct(**fields)


# --- Keys of the other generation ----------------------------------------------------------------

_STEPS = "Nova 2.0 counts steps: use training_config.trainer.max_steps (`cpt plan` suggests a value)"
_EPOCHS = "Nova 1.0 counts epochs: use training_config.trainer.max_epochs"
_HINTS: dict[Generation, dict[str, str]] = {
    "2.0": {
        "training_config.trainer.max_epochs": _STEPS,
        "training_config.model.ffn_dropout": "Nova 2.0 has no ffn_dropout: remove it",
        "training_config.model.optim": "in Nova 2.0, optim sits beside model: move it to training_config.optim",
        "training_config.optim.betas": "Nova 2.0 takes adam_beta1 and adam_beta2 (0.9 and 0.95 in the official "
        "recipe) instead of a betas list",
    },
    "1.0": {
        "training_config.trainer.max_steps": _EPOCHS,
        "training_config.trainer.val_check_interval": "val_check_interval is a Nova 2.0 key: Nova 1.0 has none",
        "training_config.trainer.limit_val_batches": "limit_val_batches is a Nova 2.0 key: Nova 1.0 has none",
        "training_config.task_type": "task_type is a Nova 2.0 key: Nova 1.0 recipes have none",
        "training_config.optim": "in Nova 1.0, optim sits inside model: move it to training_config.model.optim",
        "training_config.model.optim.adam_beta1": "Nova 1.0 takes betas: [beta1, beta2] instead of adam_beta1",
        "training_config.model.optim.adam_beta2": "Nova 1.0 takes betas: [beta1, beta2] instead of adam_beta2",
        "training_config.model.optim.optimizer": "optimizer is a Nova 2.0 key: Nova 1.0 has only name",
    },
}


def generation_hint(generation: Generation, path: str) -> str | None:
    """Why a key at `path` is not allowed in a recipe of `generation`, when it belongs to the other one."""
    return _HINTS[generation].get(path)


# --- Schema look-ups ----------------------------------------------------------------------------


def _section_class(info: FieldInfo) -> type[Section] | None:
    annotation = info.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


def _resolve(root: type[Section], parts: PathParts) -> tuple[type[Section] | None, FieldInfo | None]:
    """The section class and field found at a path (a list index stays on its list field)."""
    section: type[Section] | None = root
    info: FieldInfo | None = None
    for part in parts:
        if section is None:
            break
        if not isinstance(part, str) or part not in section.model_fields:
            return None, None
        info = section.model_fields[part]
        section = _section_class(info)
    return section, info


def schema_location(root: type[Section], parts: PathParts) -> tuple[str | int, ...]:
    """A pydantic error location as a recipe location: below a field that is not a section only list
    indexes are kept, so the member names of a union (`val_check_interval.int`) are dropped."""
    kept: list[str | int] = []
    section: type[Section] | None = root
    for part in parts:
        if section is not None:
            kept.append(part)
            info = section.model_fields.get(part) if isinstance(part, str) else None
            section = _section_class(info) if info else None
        elif isinstance(part, int):
            kept.append(part)
    return tuple(kept)


def section_keys(root: type[Section], parts: PathParts) -> list[str]:
    """Keys allowed in the section at `parts`, empty when `parts` is not a section."""
    section, _ = _resolve(root, parts)
    return list(section.model_fields) if section else []


def field_rule(root: type[Section], parts: PathParts) -> str | None:
    """What the field at `parts` must be ("an integer from 1 to 8192"), or None when unknown."""
    section, info = _resolve(root, parts)
    if section is not None:
        return f"a mapping with the keys {', '.join(section.model_fields)}"
    return info.description if info else None


def schema_paths(root: type[Section]) -> list[str]:
    """Every dotted key of the schema, sections included, in layout order."""
    paths: list[str] = []

    def walk(section: type[Section], prefix: str) -> None:
        for name, info in section.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            paths.append(path)
            child = _section_class(info)
            if child:
                walk(child, path)

    walk(root, "")
    return paths
