"""Corpus quality: planted near copies, mojibake, a language mix and validation copies are found."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import ftfy.badness
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py3langid.langid import classify

from novacpt.dataset import language
from novacpt.dataset.codes import WarningCode
from novacpt.dataset.language import SAMPLE_BYTES, UNKNOWN, languages_of
from novacpt.dataset.mojibake import is_mojibake, mojibake_in
from novacpt.dataset.quality import (
    MAX_LISTED,
    QualityReport,
    assess,
    quality_report,
    sketch_stream,
)
from novacpt.dataset.shards import ShardStream, read_from, shard_bounds
from novacpt.dataset.shingles import THRESHOLD, band_keys, is_spaced
from tests.quality_corpus import SENTENCES, Planted, mojibake, near_copy_en, planted_corpus


def _stream(corpus: Planted) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in corpus.texts).encode())


@pytest.fixture(scope="module")
def corpus() -> Planted:
    return planted_corpus()


@pytest.fixture(scope="module")
def report(corpus: Planted) -> QualityReport:
    return assess(_stream(corpus))


def _cluster_of(report: QualityReport) -> dict[int, int]:
    return {line: i for i, group in enumerate(report.near_duplicates.clusters) for line in group}


def _recall(corpus: Planted, report: QualityReport, language: str) -> float:
    where = _cluster_of(report)
    planted = [(c, o) for c, o in corpus.copies.items() if corpus.languages[c] == language]
    assert planted, language
    found = [c for c, o in planted if c in where and where[c] == where.get(o)]
    return len(found) / len(planted)


def test_near_copies_with_one_word_in_a_hundred_changed_are_found(corpus: Planted, report: QualityReport) -> None:
    assert _recall(corpus, report, "en") >= 0.9


def test_near_copies_with_a_few_japanese_characters_changed_are_found(corpus: Planted, report: QualityReport) -> None:
    assert _recall(corpus, report, "ja") >= 0.9


def test_no_cluster_joins_unrelated_records(corpus: Planted, report: QualityReport) -> None:
    for group in report.near_duplicates.clusters:
        originals = {corpus.copies.get(line, line) for line in group}
        assert len(originals) == 1, group  # every line of a group is one original or a copy of it
    assert report.near_duplicates.count <= len(corpus.copies)
    assert report.near_duplicates.rate == pytest.approx(report.near_duplicates.count / len(corpus.texts), abs=1e-6)
    assert report.near_duplicates.threshold == THRESHOLD
    assert all(group == sorted(group) for group in report.near_duplicates.clusters)


def test_exact_copies_are_near_copies_too() -> None:
    texts = [SENTENCES["en"] + f" record {i} " + "alpha beta gamma " * i for i in range(1, 6)]
    texts.append(texts[2])
    found = assess(io.BytesIO("".join(json.dumps({"text": t}) + "\n" for t in texts).encode()))
    assert [3, 6] in found.near_duplicates.clusters


def test_short_records_get_one_shingle_and_blank_ones_none() -> None:
    keys = band_keys(["two words", "two words", "x", ""])
    assert (keys[0] == keys[1]).all() and keys[0].all()
    assert not (keys[0] == keys[2]).any()
    assert not keys[3].any()


def test_the_script_picks_the_shingles() -> None:
    assert is_spaced(SENTENCES["en"]) and is_spaced(SENTENCES["fr"])
    assert not is_spaced(SENTENCES["ja"])


def test_mojibake_lines_are_found_and_nothing_else(corpus: Planted, report: QualityReport) -> None:
    assert report.mojibake.count == len(corpus.mojibake)
    assert report.mojibake.lines == sorted(corpus.mojibake)
    assert report.mojibake.rate == pytest.approx(len(corpus.mojibake) / len(corpus.texts), abs=1e-6)


_MOJIBAKE_ALPHABET = "aZ é ÃÂâ€œ™ВГРС°µ当社\n.,😀" + "".join(chr(c) for c in range(0x80, 0x100))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_MOJIBAKE_ALPHABET, max_size=40), max_size=8))
def test_mojibake_detection_is_exactly_ftfys(texts: list[str]) -> None:
    assert mojibake_in(texts) == [i for i, text in enumerate(texts) if ftfy.badness.is_bad(text)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.text(alphabet=_MOJIBAKE_ALPHABET, max_size=3)), max_size=12))
def test_mojibake_in_mostly_ascii_text_is_exactly_ftfys(pieces: list[tuple[int, str]]) -> None:
    texts = ["word " * n + piece for n, piece in pieces]
    texts.append("".join(texts))
    assert mojibake_in(texts) == [i for i, text in enumerate(texts) if ftfy.badness.is_bad(text)]


def test_lone_accents_in_ascii_text_are_exactly_ftfys_too() -> None:
    # a trigger with no other non-ASCII character nearby is not searched: the answer must not change
    texts = ["a café, a “quote” and ü", "résumé", "x" * 50 + "Ã" + "y" * 50, "Â\xa0" + "z" * 9, "\x85 alone", "é" * 3]
    assert mojibake_in(texts) == [i for i, text in enumerate(texts) if ftfy.badness.is_bad(text)]


def test_mojibake_examples() -> None:
    assert is_mojibake(mojibake("café “quoted”"))
    assert not is_mojibake("café “quoted” — naïve")
    assert not is_mojibake(SENTENCES["ja"])


_LANGUAGE_SAMPLES = [SENTENCES[k].encode()[: 7 * n] for k in SENTENCES for n in range(1, 16)] + [
    SENTENCES["en"].upper().encode(),
    "ÉTÉ À PARIS".encode(),
    "当社".encode()[:4],  # cut inside a character
    b"\xff\xfe not utf-8",
    b"x",
]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_LANGUAGE_SAMPLES) | st.binary(max_size=80), min_size=1, max_size=40))
def test_languages_are_exactly_py3langids(samples: list[bytes]) -> None:
    expected = [str(classify(s[:SAMPLE_BYTES])[0]) if s[:SAMPLE_BYTES].strip() else UNKNOWN for s in samples]
    assert languages_of(samples) == expected


def _small_model(_: object) -> tuple[object, ...]:
    """A stand-in for py3langid's load_model: the same parts, a few bytes each (no 66 MB copies in tests)."""
    return (np.ones((3, 2), np.float16), np.zeros(2, np.float32), ["en", "fr"], np.arange(256), np.zeros(3), [0, -1, 1])


def test_the_unpacked_model_is_cached_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(language, "load_model", _small_model)
    unpacked = language._model_arrays()
    (folder,) = (tmp_path / "cpt" / "py3langid").iterdir()  # one folder, no staging left behind
    monkeypatch.setattr(language, "load_model", lambda _: pytest.fail("the model was unpacked again"))
    cached = language._model_arrays()
    assert all(np.array_equal(a, b) for a, b in zip(unpacked, cached, strict=True))
    (folder / "ptc.npy").write_bytes(b"damaged")
    monkeypatch.setattr(language, "load_model", _small_model)
    assert np.array_equal(language._model_arrays()[0], unpacked[0])  # unpacked again ...
    assert np.array_equal(np.load(folder / "ptc.npy"), unpacked[0])  # ... and stored again


def test_without_a_writable_cache_the_model_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setattr(language, "load_model", _small_model)
    ptc, pc, classes, *_ = language._model_arrays()
    assert ptc.shape[1] == pc.size == classes.size


def test_without_a_home_folder_the_model_is_unpacked(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(language, "cache_home", no_home)
    monkeypatch.setattr(language, "load_model", _small_model)
    assert language._model_arrays()[3].size == 256


def test_languages_are_shares_of_records() -> None:
    rng = random.Random(3)
    mix = ["ja"] * 12 + ["en"] * 6 + ["fr"] * 2
    rng.shuffle(mix)
    lines = [json.dumps({"text": SENTENCES[lang] + f" {i}"}, ensure_ascii=False) for i, lang in enumerate(mix)]
    found = assess(io.BytesIO(("\n".join(lines) + "\n").encode()))
    assert found.languages == {"ja": 0.6, "en": 0.3, "fr": 0.1}
    assert list(found.languages) == ["ja", "en", "fr"]  # largest first


def test_validation_copies_exact_and_near(corpus: Planted) -> None:
    rng = random.Random(5)
    english = [i for i, lang in corpus.languages.items() if lang == "en" and i not in corpus.mojibake]
    validation = Planted()
    exact = [validation.add(corpus.texts[i - 1]) for i in english[:4]]
    vocabulary = sorted(set(" ".join(corpus.texts[i - 1] for i in english[:50]).split()))
    near = [validation.add(near_copy_en(rng, corpus.texts[i - 1], vocabulary)) for i in english[10:13]]
    for i in range(20):
        validation.add(f"{SENTENCES['fr']} {i} " + " ".join(rng.choice(vocabulary) for _ in range(200)))
    found = assess(_stream(corpus), _stream(validation)).validation_overlap
    assert found is not None
    assert (found.exact, found.near) == (4, 3)
    assert found.lines == sorted(exact + near)


def _sharded(corpus: Planted, validation: Planted | None, shard_bytes: int, partitions: int) -> QualityReport:
    data = _stream(corpus).getvalue()
    sketches = []
    for start, end in shard_bounds(len(data), shard_bytes):
        source = io.BytesIO(data)
        source.seek(read_from(start))
        sketches.append(sketch_stream(ShardStream(source, start, end)))
    checked = [sketch_stream(_stream(validation))] if validation else None
    return quality_report(sketches, checked, partitions)


@pytest.mark.parametrize(("shard_bytes", "partitions"), [(20_000, 4), (123_457, 3), (10**9, 1)])
def test_sharded_sketches_merge_to_the_single_pass_report(
    corpus: Planted, report: QualityReport, shard_bytes: int, partitions: int
) -> None:
    validation = Planted(texts=[*corpus.texts[5:9], "Unrelated validation text about nothing at all."])
    single = assess(_stream(corpus), _stream(validation))
    assert _sharded(corpus, validation, shard_bytes, partitions) == single
    assert single.near_duplicates == report.near_duplicates


def test_lines_without_a_record_keep_line_numbers() -> None:
    texts = [SENTENCES["en"] + " one two three four five six", SENTENCES["en"] + " one two three four five six"]
    raw = f'not json\n{json.dumps({"text": texts[0]})}\n{{"text": 5}}\n{json.dumps({"text": texts[1]})}'
    found = assess(io.BytesIO(raw.encode()))
    assert found.records == 2
    assert found.near_duplicates.clusters == [[2, 4]]


def test_listed_lines_are_capped() -> None:
    raw = "".join(json.dumps({"text": mojibake("café")}) + "\n" for _ in range(MAX_LISTED + 5))
    found = assess(io.BytesIO(raw.encode()))
    assert found.mojibake.count == MAX_LISTED + 5
    assert len(found.mojibake.lines) == MAX_LISTED


def test_warnings_name_each_problem(corpus: Planted, report: QualityReport, tmp_path: Path) -> None:
    validation = Planted(texts=[corpus.texts[0]])
    both = assess(_stream(corpus), _stream(validation))
    codes = {w.code for w in both.warnings({"ja": 0.6, "en": 0.1})}
    assert codes == {
        WarningCode.NEAR_DUPLICATE_RATE,
        WarningCode.VALIDATION_OVERLAP,
        WarningCode.MOJIBAKE,
        WarningCode.LANGUAGE_SHARE,
    }
    clean = assess(io.BytesIO(json.dumps({"text": SENTENCES["ja"]}, ensure_ascii=False).encode()))
    assert clean.warnings({"ja": 0.6}) == []


def test_languages_of_a_large_stream_come_from_one_record_in_four(monkeypatch: pytest.MonkeyPatch) -> None:
    from novacpt.dataset import quality

    monkeypatch.setattr(quality, "LANGUAGE_ALL", 8)
    texts = [SENTENCES["ja"] + f" {i}" for i in range(8)] + [SENTENCES["en"] + f" {i}" for i in range(12)]
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in texts]
    found = assess(io.BytesIO(("\n".join(lines) + "\n").encode()))
    # all of the first 8 records (ja), then records 8, 12 and 16 (en): shares of the 11 identified
    assert found.languages == {"ja": round(8 / 11, 4), "en": round(3 / 11, 4)}
    assert found.records == 20
