"""`cpt validate-dataset --quality [--validation VFILE] [--expect-language CODE=SHARE] [--json]`: the contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from novacpt_cli import app
from tests.quality_corpus import SENTENCES, Planted, planted_corpus

runner = CliRunner()


@pytest.fixture(scope="module")
def corpus() -> Planted:
    return planted_corpus(seed=21, originals=120, copies=20)


@pytest.fixture
def files(corpus: Planted, tmp_path: Path) -> tuple[Path, Path, list[int]]:
    """The training file, a validation file with 3 exact copies among unrelated records, the copies' lines."""
    train = corpus.write(tmp_path / "train.jsonl")
    validation = Planted(texts=[SENTENCES["fr"] + f" {i}" for i in range(5)])
    copied = [validation.add(corpus.texts[i]) for i in (0, 1, 3)]
    return train, validation.write(tmp_path / "validation.jsonl"), copied


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["validate-dataset", *args])
    return result.exit_code, result.stdout


def test_json_follows_the_contract(corpus: Planted, files: tuple[Path, Path, list[int]]) -> None:
    train, validation, copied = files
    code, out = _run(str(train), "--quality", "--validation", str(validation), "--json")
    assert code == 0
    report = json.loads(out)  # exactly one JSON object
    quality = report["quality"]
    near = quality["near_duplicates"]
    assert set(near) >= {"rate", "threshold", "clusters"}
    assert near["threshold"] == 0.8
    assert near["rate"] == pytest.approx(near["count"] / len(corpus.texts), abs=1e-6)
    assert all(isinstance(line, int) and line >= 1 for group in near["clusters"] for line in group)
    assert {"en", "ja"} <= set(quality["languages"])  # the mojibake records may read as another language
    assert sum(quality["languages"].values()) == pytest.approx(1.0, abs=1e-3)
    assert quality["mojibake"]["count"] == len(corpus.mojibake)
    assert quality["mojibake"]["lines"] == sorted(corpus.mojibake)
    assert quality["validation_overlap"] == {"exact": 3, "near": 0, "lines": copied}
    codes = {w["code"] for w in report["warnings"]}
    assert {"near_duplicate_rate", "validation_overlap", "mojibake"} <= codes


def test_text_output_has_the_table_and_the_warnings(files: tuple[Path, Path, list[int]]) -> None:
    train, validation, _ = files
    code, out = _run(str(train), "--quality", "--validation", str(validation), "--expect-language", "ja=0.6")
    assert code == 0
    for row in ("near-duplicates", "languages", "mojibake", "validation overlap"):
        assert f"  {row}" in out
    for warning in ("near_duplicate_rate", "validation_overlap", "mojibake", "language_share: language 'ja'"):
        assert f"warning: {warning}" in out


def test_without_quality_there_is_no_quality_object(files: tuple[Path, Path, list[int]]) -> None:
    code, out = _run(str(files[0]), "--json")
    assert code == 0
    assert "quality" not in json.loads(out)


def test_an_invalid_dataset_still_exits_1_with_its_quality(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": SENTENCES["en"]}) + "\n" + '{"text": 1}\n')
    code, out = _run(str(path), "--quality", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False and report["quality"]["records"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--validation", "{validation}"], "--validation needs --quality"),
        (["--expect-language", "ja=0.6"], "--expect-language needs --quality"),
        (["--quality", "--expect-language", "ja"], "--expect-language 'ja'"),
        (["--quality", "--expect-language", "ja=lots"], "is not a number"),
        (["--quality", "--expect-language", "ja=1.5"], "outside (0, 1]"),
        (["--quality", "--expect-language", "japanese=0.5"], "language code"),
        (["--quality", "--validation", "{missing}"], "no such validation file"),
    ],
)
def test_usage_errors_exit_2_with_one_located_json_error(
    files: tuple[Path, Path, list[int]], tmp_path: Path, args: list[str], message: str
) -> None:
    train, validation, _ = files
    filled = [a.format(validation=validation, missing=tmp_path / "missing.jsonl") for a in args]
    code, out = _run(str(train), *filled, "--json")
    assert code == 2
    error = json.loads(out)
    assert error["ok"] is False and message in error["error"]["message"]
