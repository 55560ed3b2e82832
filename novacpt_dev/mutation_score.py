"""The mutation score of `make mutate`, from mutmut's per-file results under `mutants/`.

Prints one line per mutated module, then the surviving mutants that `tests/MUTANTS.md` does not
explain, then its entries that name a mutant the run killed or no longer made (stale: a function's
mutants are numbered anew when its source changes), then, last, `mutation score: K/N killed`. A mutant
counts as killed when a test failed (or timed out: the mutation made the code hang; the per-module line
says how many timed out, since a forked test run can also hang for reasons of its own); survivors,
mutants no selected test reaches and mutants not run yet count against the score.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_CODES = frozenset({24, 36, 152, 255, -24})
KILLED_CODES = frozenset({1, 3, 37}) | TIMEOUT_CODES  # test failed, pytest error, type check, timeouts
SURVIVED_CODES = frozenset({0})
NO_TESTS_CODES = frozenset({5, 33})


@dataclass(frozen=True, slots=True)
class ModuleScore:
    """The mutants of one module, by outcome."""

    module: str
    killed: int
    timeouts: int
    survivors: tuple[str, ...]
    no_tests: tuple[str, ...]
    other: int
    open_names: frozenset[str]  # survivors, mutants no test reaches, and those not run

    @property
    def total(self) -> int:
        return self.killed + len(self.survivors) + len(self.no_tests) + self.other


def module_scores(mutants_dir: Path) -> list[ModuleScore]:
    """One score per `<module>.py.meta` file mutmut wrote, in path order (modules without mutants left out)."""
    scores = []
    for meta in sorted(mutants_dir.rglob("*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        outcome = Counter(
            "killed"
            if code in KILLED_CODES
            else "survived"
            if code in SURVIVED_CODES
            else "no tests"
            if code in NO_TESTS_CODES
            else "other"
            for code in codes.values()
        )
        scores.append(
            ModuleScore(
                module=str(meta.relative_to(mutants_dir)).removesuffix(".meta"),
                killed=outcome["killed"],
                timeouts=sum(code in TIMEOUT_CODES for code in codes.values()),
                survivors=tuple(sorted(k for k, c in codes.items() if c in SURVIVED_CODES)),
                no_tests=tuple(sorted(k for k, c in codes.items() if c in NO_TESTS_CODES)),
                other=outcome["other"],
                open_names=frozenset(k for k, c in codes.items() if c not in KILLED_CODES),
            )
        )
    return scores


def is_named(name: str, notes: str) -> bool:
    """Whether `notes` names the mutant whole: `x__mutmut_20` does not name `x__mutmut_2`."""
    return re.search(re.escape(name) + r"(?!\w)", notes) is not None


def report(scores: list[ModuleScore], explained: str) -> list[str]:
    """The lines `make mutate` prints: per module, unexplained survivors, and the score line last."""
    lines = []
    for s in scores:
        share = f"{100 * s.killed / s.total:.0f}%" if s.total else "-"
        share += f", {s.timeouts} by timeout" if s.timeouts else ""
        extra = f", {len(s.no_tests)} reached by no test" if s.no_tests else ""
        extra += f", {s.other} not run or interrupted" if s.other else ""
        lines.append(f"{s.module}: {s.killed}/{s.total} killed ({share}), {len(s.survivors)} survived{extra}")
    unexplained = [name for s in scores for name in (*s.survivors, *s.no_tests) if not is_named(name, explained)]
    if unexplained:
        lines.append(f"{len(unexplained)} surviving mutants are not explained in tests/MUTANTS.md:")
        lines += [f"  {name}" for name in unexplained]
    named = set(re.findall(r"[\w.ǁ]+__mutmut_\d+", explained))
    stale = sorted(
        name
        for s in scores
        for name in named - s.open_names
        if name.startswith(s.module.removesuffix(".py").replace("/", ".") + ".")
    )
    if stale:
        lines.append(f"{len(stale)} entries of tests/MUTANTS.md name a mutant killed or gone (remove or renumber):")
        lines += [f"  {name}" for name in stale]
    killed, total = sum(s.killed for s in scores), sum(s.total for s in scores)
    lines.append(f"mutation score: {killed}/{total} killed")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m novacpt_dev.mutation_score [mutants-dir [MUTANTS.md]]`."""
    args = sys.argv[1:] if argv is None else argv
    mutants_dir = Path(args[0] if args else "mutants")
    notes = Path(args[1] if len(args) > 1 else "tests/MUTANTS.md")
    if not mutants_dir.is_dir():
        print(f"{mutants_dir}: no mutation results (run `make mutate`)", file=sys.stderr)
        return 2
    if not notes.is_file():
        print(f"{notes}: no such file (the survivors' explanations, tests/MUTANTS.md)", file=sys.stderr)
        return 2
    explained = notes.read_text()
    print("\n".join(report(module_scores(mutants_dir), explained)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
