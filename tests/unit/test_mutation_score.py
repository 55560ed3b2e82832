"""`make mutate`'s last line, from mutmut's result files: what counts as killed, and the survivors left unexplained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from novacpt_dev.mutation_score import main


def _meta(root: Path, module: str, codes: dict[str, int | None]) -> None:
    path = root / f"{module}.meta"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))


def test_the_last_line_is_the_score_and_only_failing_or_hanging_tests_kill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutants = tmp_path / "mutants"
    _meta(mutants, "novacpt/a.py", {"a.x__mutmut_1": 1, "a.x__mutmut_2": 0, "a.x__mutmut_3": 36, "a.x__mutmut_4": 33})
    _meta(mutants, "novacpt/b.py", {"b.y__mutmut_1": 3, "b.y__mutmut_2": None})
    _meta(mutants, "novacpt/empty.py", {})
    notes = tmp_path / "MUTANTS.md"
    notes.write_text("| a.x__mutmut_2 | equivalent: the default is never used |\n")

    assert main([str(mutants), str(notes)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "mutation score: 3/6 killed"
    assert lines[0] == "novacpt/a.py: 2/4 killed (50%, 1 by timeout), 1 survived, 1 reached by no test"
    assert lines[1] == "novacpt/b.py: 1/2 killed (50%), 0 survived, 1 not run or interrupted"
    assert "  a.x__mutmut_4" in lines  # reached by no test, and not explained
    assert "  a.x__mutmut_2" not in lines  # explained in MUTANTS.md
    assert not any("empty.py" in line for line in lines)


def test_without_results_it_says_how_to_get_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "mutants")]) == 2
    assert "make mutate" in capsys.readouterr().err


def test_a_mistyped_explanations_file_is_named_not_read_as_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutants = tmp_path / "mutants"
    _meta(mutants, "a.py", {"a.x__mutmut_1": 0})
    assert main([str(mutants), str(tmp_path / "MUTANT.md")]) == 2
    captured = capsys.readouterr()
    assert (
        captured.out == ""
        and captured.err.strip()
        == f"{tmp_path / 'MUTANT.md'}: no such file (the survivors' explanations, tests/MUTANTS.md)"
    )


def test_a_mutant_is_explained_only_by_its_whole_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mutants = tmp_path / "mutants"
    _meta(mutants, "novacpt/a.py", {"a.x__mutmut_2": 0, "a.x__mutmut_20": 0, "a.x__mutmut_3": 0})
    notes = tmp_path / "MUTANTS.md"
    notes.write_text("| `a.x__mutmut_20` | equivalent | why |\n| a.x__mutmut_3 | equivalent | why |\n")

    assert main([str(mutants), str(notes)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "1 surviving mutants are not explained in tests/MUTANTS.md:" in lines
    assert "  a.x__mutmut_2" in lines
    assert "  a.x__mutmut_20" not in lines and "  a.x__mutmut_3" not in lines


def test_an_entry_naming_a_killed_mutant_is_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A function's mutants are numbered anew when its source changes: an old entry then names another mutant."""
    mutants = tmp_path / "mutants"
    _meta(mutants, "a.py", {"a.xǁCǁf__mutmut_1": 1, "a.xǁCǁf__mutmut_2": 0, "a.x__mutmut_3": None})
    notes = tmp_path / "MUTANTS.md"
    notes.write_text(
        "| `a.xǁCǁf__mutmut_1` | equivalent | why |\n| `a.xǁCǁf__mutmut_2` | equivalent | why |\n"
        "| `a.x__mutmut_3` | equivalent | not run: neither stale nor explained yet |\n"
        "| `a.x__mutmut_9` | equivalent | no such mutant any more |\n| `b.x__mutmut_1` | equivalent | not scored |\n"
    )

    assert main([str(mutants), str(notes)]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("2 entries of tests/MUTANTS.md name a mutant killed or gone (remove or renumber):")
    assert lines[at + 1 :] == ["  a.x__mutmut_9", "  a.xǁCǁf__mutmut_1", "mutation score: 1/3 killed"]
