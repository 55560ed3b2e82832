"""The planner: from a dataset's tokens to sequences, steps, hours and dollars for one recipe.

Formulas (README, "Planning a run"):
- tokens: the dataset validator's `estimated_tokens` (not counted again here);
- sequences = ceil(tokens / max_length): CPT packs documents into sequences of max_length tokens;
- steps_per_epoch = ceil(sequences / global_batch_size);
- max_steps: Nova 2.0, suggested for `epochs` passes = ceil(epochs x sequences / global_batch_size),
  clamped to 10..100000; Nova 1.0, the steps its max_epochs imply (max_epochs x steps_per_epoch);
- hours = steps x global_batch_size x max_length / (tokens_per_instance_hour x replicas), with
  tokens_per_instance_hour calibrated on the seed's table (`NovaModel.tokens_per_instance_hour`);
  instance_hours = hours x replicas; cost_usd = instance_hours x price.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from novacpt.catalog import BY_KEY, INSTANCE_TYPE, SEED_GLOBAL_BATCH_SIZE, SEED_MAX_LENGTH, SEED_SAMPLES, NovaModel
from novacpt.recipe.model import MAX_STEPS_RANGE, Recipe

MIN_PASS_FRACTION = 1.0  # a 2.0 recipe's max_steps below one pass (or below --epochs, if less) is a warning
MAX_PASSES = 5  # more passes than this over the same data is a warning (overfitting)
MIN_REPLICA_HOURS = 1.0  # one pass shorter than this per instance: start-up costs more than training
DOC_SEPARATOR = b"[DOC]"  # the Nova CPT container's document separator
DEFAULT_EPOCHS = 1.0
MAX_EPOCHS = 1000.0

ASSUMPTIONS = (
    f"calibration: the seed's table ({SEED_SAMPLES:,} samples of {SEED_MAX_LENGTH:,} tokens at global batch "
    f"{SEED_GLOBAL_BATCH_SIZE}) gives each model's tokens per P5 instance-hour",
    "time is linear in tokens trained (steps x global_batch_size x max_length) and inversely proportional "
    "to replicas (perfect data-parallel scaling); start-up (scale-up, health checks) is not included",
    "documents are packed into sequences of max_length tokens (no padding)",
)


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the planner needs from a recipe (a validated recipe or the pipeline's run summary)."""

    model: NovaModel
    replicas: int
    max_length: int
    global_batch_size: int
    max_epochs: int | None  # Nova 1.0
    max_steps: int | None  # Nova 2.0

    @classmethod
    def from_recipe(cls, recipe: Recipe) -> PlanInputs:
        """The inputs of a validated recipe of either generation."""
        tc = recipe.training_config
        steps = getattr(tc.trainer, "max_steps", None)
        return cls(
            recipe.nova_model, recipe.run.replicas, tc.max_length, tc.global_batch_size, recipe.max_epochs, steps
        )


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """One finding: a stable code and a message that says what to do."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RunCost:
    """Hours, instance-hours and dollars (when priced) of a number of steps."""

    steps: int
    passes: float
    hours: float
    instance_hours: float
    cost_usd: float | None


@dataclass(frozen=True, slots=True)
class Plan:
    """The plan of one recipe on one dataset.

    `hours`, `instance_hours` and `cost_usd` are for `max_steps`; `recipe_run` is the recipe as written.
    """

    model: str
    generation: str
    replicas: int
    instance_type: str
    max_length: int
    global_batch_size: int
    tokens: int
    token_estimate: str
    sequences: int
    steps_per_epoch: int
    epochs: float
    max_steps: int
    hours: float
    instance_hours: float
    cost_usd: float | None
    recipe_run: RunCost
    tokens_per_instance_hour: float
    price_per_instance_hour: float | None
    warnings: list[PlanWarning] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (strict: every number finite), with the assumptions the figures rest on."""
        return {**asdict(self), "assumptions": [*ASSUMPTIONS, _timing(self.model)]}


def _timing(key: str) -> str:
    return f"timing of {BY_KEY[key].label}: {BY_KEY[key].timing_note}"


def check_price(price: float | None) -> float | None:
    """`price` when None or a finite number > 0; ValueError otherwise (never NaN or infinity in a plan)."""
    if price is not None and not (math.isfinite(price) and price > 0):
        raise ValueError(f"the price per instance-hour must be a finite number above 0, not {price!r}")
    return price


def check_epochs(epochs: float) -> float:
    """`epochs` when finite and in (0, MAX_EPOCHS]; ValueError otherwise."""
    if not (math.isfinite(epochs) and 0 < epochs <= MAX_EPOCHS):
        raise ValueError(f"--epochs must be a number above 0 and at most {MAX_EPOCHS:g}, not {epochs!r}")
    return epochs


def run_cost(inputs: PlanInputs, steps: int, sequences: int, price: float | None) -> RunCost:
    """What `steps` optimizer steps cost on the recipe's replicas."""
    trained = steps * inputs.global_batch_size * inputs.max_length
    hours = trained / (inputs.model.tokens_per_instance_hour * inputs.replicas)
    instance_hours = round(hours * inputs.replicas, 3)
    cost = None if price is None else round(instance_hours * price, 2)  # from the figure shown, so they agree
    passes = steps * inputs.global_batch_size / sequences if sequences else 0.0
    return RunCost(steps, round(passes, 4), round(hours, 3), instance_hours, cost)


def make_plan(
    inputs: PlanInputs,
    *,
    tokens: int,
    token_estimate: str,
    epochs: float = DEFAULT_EPOCHS,
    price_per_instance_hour: float | None = None,
    doc_separators: int | None = None,
) -> Plan:
    """The plan of `inputs` on a dataset of `tokens` estimated tokens (ValueError on a bad price or epochs)."""
    price = check_price(price_per_instance_hour)
    check_epochs(epochs)
    gbs = inputs.global_batch_size
    sequences = -(-tokens // inputs.max_length)
    steps_per_epoch = -(-sequences // gbs)
    low, high = MAX_STEPS_RANGE
    if inputs.model.generation == "2.0":
        max_steps = min(max(math.ceil(epochs * sequences / gbs), low), high)
        recipe_steps = inputs.max_steps or low
    else:
        max_steps = recipe_steps = (inputs.max_epochs or 1) * steps_per_epoch
    planned = run_cost(inputs, max_steps, sequences, price)
    as_written = run_cost(inputs, recipe_steps, sequences, price)
    plan = Plan(
        model=inputs.model.key,
        generation=inputs.model.generation,
        replicas=inputs.replicas,
        instance_type=INSTANCE_TYPE,
        max_length=inputs.max_length,
        global_batch_size=gbs,
        tokens=tokens,
        token_estimate=token_estimate,
        sequences=sequences,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs if inputs.model.generation == "2.0" else float(inputs.max_epochs or 1),
        max_steps=max_steps,
        hours=planned.hours,
        instance_hours=planned.instance_hours,
        cost_usd=planned.cost_usd,
        recipe_run=as_written,
        tokens_per_instance_hour=round(inputs.model.tokens_per_instance_hour),
        price_per_instance_hour=price,
    )
    plan.warnings.extend(_warnings(inputs, plan, epochs, doc_separators))
    return plan


def _warnings(inputs: PlanInputs, plan: Plan, epochs: float, doc_separators: int | None) -> list[PlanWarning]:
    found: list[PlanWarning] = []
    passes, steps = plan.recipe_run.passes, plan.recipe_run.steps
    where = "training_config.trainer.max_steps" if plan.generation == "2.0" else "training_config.trainer.max_epochs"
    per_step = f"{inputs.global_batch_size} x {inputs.max_length:,}"
    if plan.generation == "2.0" and plan.sequences and passes < min(MIN_PASS_FRACTION, epochs):
        found.append(
            PlanWarning(
                "max_steps_below_pass",
                f"{where} {steps} covers {passes:.1%} of one pass over the dataset ({steps} x {per_step} tokens of "
                f"{plan.tokens:,}): set it to {plan.max_steps} for {epochs:g} pass(es) (about {plan.hours:g} h)",
            )
        )
    if passes > MAX_PASSES:
        fix = f"set it to {plan.max_steps} for {epochs:g} pass(es)" if plan.generation == "2.0" else "lower it"
        found.append(
            PlanWarning(
                "too_many_passes",
                f"{where} makes {passes:.1f} passes over the dataset (more than {MAX_PASSES}): many passes over "
                f"little data overfit; {fix}, or add data",
            )
        )
    if plan.generation == "2.0" and plan.max_steps != math.ceil(epochs * plan.sequences / inputs.global_batch_size):
        found.append(
            PlanWarning(
                "max_steps_clamped",
                f"{epochs:g} pass(es) need {math.ceil(epochs * plan.sequences / inputs.global_batch_size)} steps; "
                f"max_steps is limited to {MAX_STEPS_RANGE[0]} to {MAX_STEPS_RANGE[1]:,}, "
                f"so {plan.max_steps} is suggested",
            )
        )
    per_replica = plan.tokens / inputs.replicas
    minimum = inputs.model.tokens_per_instance_hour * MIN_REPLICA_HOURS
    if plan.tokens and per_replica < minimum:
        fewest = inputs.model.replicas[0]
        found.append(
            PlanWarning(
                "few_tokens_per_replica",
                f"one pass gives each of the {inputs.replicas} instances {per_replica:,.0f} tokens, "
                f"{_minutes(60 * per_replica / inputs.model.tokens_per_instance_hour)} of training (under "
                f"{MIN_REPLICA_HOURS:g} h: scaling up and health checks cost more); use fewer replicas "
                f"({fewest} is the least for {inputs.model.label}) or more data",
            )
        )
    if doc_separators:
        found.append(
            PlanWarning(
                "doc_separator_in_text",
                f"{doc_separators} text(s) contain the literal {DOC_SEPARATOR.decode()}, which the Nova CPT "
                "container uses as its document separator: those documents will be split there; remove or "
                "replace it",
            )
        )
    return found


def _minutes(minutes: float) -> str:
    return f"about {minutes:.0f} minutes" if minutes >= 1 else "under a minute"


def count_doc_separators(path: str | Path, chunk_bytes: int = 1 << 24) -> int:
    """Lines of a JSONL file that contain the literal [DOC] (a plain byte scan, several GB/s).

    The dataset validator does not report this count, so the planner scans for it itself.
    """
    overlap = len(DOC_SEPARATOR) - 1
    found, last_line = 0, -1
    lines_before = 0  # newlines before the start of `data`
    tail = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            data = tail + chunk
            line, position = lines_before, 0
            while (hit := data.find(DOC_SEPARATOR, position)) != -1:
                line += data.count(b"\n", position, hit)
                if line != last_line:
                    found, last_line = found + 1, line
                position = hit + 1
            tail = data[-overlap:] if len(data) >= overlap else data
            lines_before += data.count(b"\n") - tail.count(b"\n")
    return found
