"""Tests of novacpt.dataset: every format rule (good and bad), error reporting, statistics, warnings, JSON shape."""

from __future__ import annotations

import gzip
import io
import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from novacpt.dataset import DatasetOptions, ErrorCode, WarningCode, validate_path, validate_stream
from novacpt.dataset import scan as scan_module
from novacpt.dataset.lengths import TOKEN_ESTIMATE
from novacpt_cli import app

BOM = b"\xef\xbb\xbf"


def rec(text: Any, *, ascii: bool = False) -> bytes:
    """One record line (without its newline)."""
    return json.dumps({"text": text}, ensure_ascii=ascii).encode("utf-8")


def jsonl(*lines: bytes, end: bytes = b"\n") -> bytes:
    return b"".join(line + end for line in lines)


def run(data: bytes, name: str = "data.jsonl", **options: Any) -> dict[str, Any]:
    return validate_stream(io.BytesIO(data), name, DatasetOptions(**options)).to_json_dict()


def found(report: dict[str, Any]) -> list[tuple[int | None, str]]:
    return [(e["line"], e["code"]) for e in report["errors"]]


def assert_valid(report: dict[str, Any]) -> None:
    assert report["errors"] == [], report["errors"]
    assert report["error_counts"] == {}
    assert report["valid"] is True


def assert_only(report: dict[str, Any], line: int | None, code: str) -> None:
    assert found(report) == [(line, code)], report["errors"]
    assert report["error_counts"] == {code: 1}
    assert report["valid"] is False
    assert report["errors"][0]["message"]


def good_then(bad: bytes) -> bytes:
    """A valid first line, the bad line as line 2, a valid third line."""
    return jsonl(rec("first"), bad, rec("third"))


def nearest_rank(values: Sequence[int], q: int) -> int:
    ordered = sorted(values)
    rank = -(-q * len(ordered) // 100)
    return ordered[rank - 1]


def tokens(text: str) -> int:
    """The per-script estimate: ceil((3 x UTF-8 bytes - characters) / 8)."""
    return -(-(3 * len(text.encode("utf-8")) - len(text)) // 8)


def normal_form(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def duplicates(texts: Sequence[str | None]) -> tuple[int, list[dict[str, int]]]:
    """(count, earliest five examples) among the texts of lines 1..n (None: no record)."""
    first: dict[str, int] = {}
    pairs = []
    for line, text in enumerate(texts, start=1):
        if text is None:
            continue
        if text in first:
            pairs.append({"first_line": first[text], "duplicate_line": line})
        else:
            first[text] = line
    return len(pairs), pairs[:5]


def expected_stats(data: bytes, texts: Sequence[str | None], *, normalised: bool = False) -> dict[str, Any]:
    """The stats a file of the given line texts must have, computed here in plain Python."""
    records = [t for t in texts if t is not None]
    lengths = [tokens(t) for t in records]
    count, examples = duplicates(texts)
    stats: dict[str, Any] = {
        "lines": len(texts),
        "records": len(records),
        "bytes": len(data),
        "characters": sum(len(t) for t in records),
        "text_bytes": sum(len(t.encode("utf-8")) for t in records),
        "estimated_tokens": sum(lengths),
        "length_tokens": (
            {
                "p50": nearest_rank(lengths, 50),
                "p90": nearest_rank(lengths, 90),
                "p99": nearest_rank(lengths, 99),
                "max": max(lengths),
            }
            if lengths
            else None
        ),
        "exact_duplicates": {
            "count": count,
            "rate": round(count / len(records), 6) if records else 0.0,
            "examples": examples,
        },
        "normalised_duplicates": None,
    }
    if normalised:
        n_count, n_examples = duplicates([None if t is None else normal_form(t) for t in texts])
        stats["normalised_duplicates"] = {
            "count": n_count,
            "rate": round(n_count / len(records), 6) if records else 0.0,
            "examples": n_examples,
        }
    return stats


def assert_stats(report: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert report["stats"][key] == value, key


# --- file name ---------------------------------------------------------------------------------


def test_jsonl_extension_is_valid() -> None:
    assert_valid(run(jsonl(rec("a")), name="train.jsonl"))


@pytest.mark.parametrize("name", ["train.json", "train.txt", "train.jsonl.gz", "train", "jsonl", "train.jsonl.bak"])
def test_other_extension_is_bad_extension_without_line(name: str) -> None:
    report = run(jsonl(rec("a")), name=name)
    assert_only(report, None, "bad_extension")
    assert name in report["errors"][0]["message"]
    assert report["stats"]["records"] == 1  # the content is still checked


def test_bad_extension_and_line_errors_are_both_reported() -> None:
    report = run(jsonl(rec("a"), b"[]"), name="train.txt")
    assert found(report) == [(None, "bad_extension"), (2, "not_object")]
    assert report["error_counts"] == {"bad_extension": 1, "not_object": 1}


def test_validate_path_uses_the_file_name(tmp_path: Path) -> None:
    good = tmp_path / "corpus.jsonl"
    good.write_bytes(jsonl(rec("hello"), rec("world")))
    report = validate_path(good).to_json_dict()
    assert_valid(report)
    assert report["stats"]["records"] == 2
    assert report["stats"]["bytes"] == good.stat().st_size

    bad = tmp_path / "corpus.json"
    bad.write_bytes(jsonl(rec("hello")))
    assert_only(validate_path(str(bad)).to_json_dict(), None, "bad_extension")


def test_validate_path_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        validate_path(tmp_path / "absent.jsonl")


# --- encoding -------------------------------------------------------------------------------------


def test_utf8_without_bom_is_valid() -> None:
    report = run(jsonl(rec("café"), rec("東京"), rec("😀")))
    assert_valid(report)
    assert report["stats"]["characters"] == 4 + 2 + 1


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 4, 7, 4 << 20])
def test_bom_is_an_error_on_line_1_and_the_line_is_still_checked(chunk_bytes: int) -> None:
    data = BOM + jsonl(rec("a"), rec("b"))
    report = run(data, chunk_bytes=chunk_bytes)
    assert_only(report, 1, "bom")
    assert report["stats"]["records"] == 2
    assert report["stats"]["lines"] == 2
    assert report["stats"]["bytes"] == len(data)


def test_bom_followed_by_a_bad_first_line_reports_both() -> None:
    report = run(BOM + jsonl(b"[1]", rec("b")))
    assert found(report) == [(1, "bom"), (1, "not_object")]


def test_bom_only_file_is_reported() -> None:
    report = run(BOM)
    assert report["valid"] is False
    assert (1, "bom") in found(report)


def test_bom_in_the_middle_of_the_file_is_not_json() -> None:
    assert_only(run(jsonl(rec("a"), BOM + rec("b"))), 2, "invalid_json")


@pytest.mark.parametrize(
    "bad",
    [
        b'{"text":"\xff"}',  # never valid in UTF-8
        b'{"text":"caf\xe9"}',  # Latin-1
        b'{"text":"\xc0\xaf"}',  # overlong
        b'{"text":"\xed\xa0\x80"}',  # a surrogate encoded in UTF-8
        b'{"text":"\xe6\x9d"}',  # truncated sequence
        b'{"text":"\x80abc"}',  # lone continuation byte
        b'{"te\xffxt":"a"}',  # in a key
        b'{"text":"a"}\xff',  # after the object
    ],
)
def test_invalid_utf8_is_reported_on_its_line(bad: bytes) -> None:
    report = run(good_then(bad))
    assert_only(report, 2, "invalid_utf8")
    assert report["stats"]["records"] == 2


# --- line endings ---------------------------------------------------------------------------------


def test_crlf_line_endings_are_valid() -> None:
    data = jsonl(rec("a"), rec("b"), end=b"\r\n")
    report = run(data)
    assert_valid(report)
    assert_stats(report, expected_stats(data, ["a", "b"]))


def test_mixed_lf_and_crlf_are_valid() -> None:
    data = rec("a") + b"\r\n" + rec("b") + b"\n" + rec("c") + b"\r\n"
    assert_valid(run(data))


@pytest.mark.parametrize("last", [b"", b"\r"])
def test_final_newline_is_optional(last: bytes) -> None:
    data = jsonl(rec("a")) + rec("b") + last
    report = run(data)
    assert_valid(report)
    assert report["stats"]["lines"] == 2
    assert report["stats"]["records"] == 2


def test_single_record_without_newline_is_valid() -> None:
    report = run(rec("only"))
    assert_valid(report)
    assert report["stats"]["lines"] == 1


def test_carriage_returns_alone_do_not_end_lines() -> None:
    report = run(rec("a") + b"\r" + rec("b") + b"\r" + rec("c") + b"\n")
    assert_only(report, 1, "invalid_json")
    assert report["stats"]["lines"] == 1


def test_a_lone_carriage_return_line_is_an_empty_line() -> None:
    assert_only(run(good_then(b"\r")), 2, "empty_line")


# --- one JSON object a line -----------------------------------------------------------------------


def test_two_objects_on_one_line_are_invalid_json() -> None:
    assert_only(run(good_then(b'{"text":"a"}{"text":"b"}')), 2, "invalid_json")
    assert_only(run(good_then(b'{"text":"a"} {"text":"b"}')), 2, "invalid_json")


@pytest.mark.parametrize(
    "bad",
    [
        b'{"text":"a"',
        b'{"text":"a",}',
        b"{'text':'a'}",
        b'{"text":a}',
        b'{text:"a"}',
        b'{"text":"a"} x',
        b'{"text":"a\\x"}',
        b'{"text":"tab\there"}',  # raw control character in a string
        b'{"text":"nul\x00"}',
        b"{",
        b"}",
        b"abc",
        b'"unterminated',
    ],
)
def test_malformed_json_is_invalid_json(bad: bytes) -> None:
    assert_only(run(good_then(bad)), 2, "invalid_json")


def test_a_json_message_that_ends_in_at_says_the_column_once() -> None:
    """json's "Invalid control character at" gets its column appended once (not "at at column")."""
    (error,) = run(jsonl(b'{"text":"tab\there"}'))["errors"]
    assert error["message"] == "not valid JSON: Invalid control character at column 13"


@pytest.mark.parametrize("depth", [10, 400, 1000, 5000])
def test_deeply_nested_values_are_reported_not_raised(depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    text_code = "text_not_string" if depth < 500 else "invalid_json"  # past Python's recursion limit
    report = run(jsonl(rec("a"), b'{"text":' + nested + b"}", nested, b'{"text":' + b"[" * depth + b"}", rec("b")))
    assert found(report) == [(2, text_code), (3, "not_object" if depth < 500 else "invalid_json"), (4, "invalid_json")]
    assert report["stats"]["records"] == 2


@pytest.mark.parametrize("bad", [b"[]", b'["a"]', b'[{"text":"a"}]', b'"x"', b"1", b"-2.5", b"null", b"true", b"false"])
def test_json_that_is_not_an_object_is_not_object(bad: bytes) -> None:
    assert_only(run(good_then(bad)), 2, "not_object")


def test_whitespace_around_the_object_is_allowed() -> None:
    report = run(jsonl(b'  {"text":"a"}  ', b'\t{ "text" : "b" }\t', b'{"text":\t"c"\t}'))
    assert_valid(report)
    assert report["stats"]["records"] == 3


@pytest.mark.parametrize(
    "bad",
    [b'{"text":NaN}', b'{"text":Infinity}', b'{"text":-Infinity}', b'{"text":"a","n":NaN}', b"NaN", b"Infinity"],
)
def test_nan_and_infinity_are_not_json(bad: bytes) -> None:
    assert_only(run(good_then(bad)), 2, "invalid_json")


# --- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        b'{"text":"a","id":1}',
        b'{"id":1,"text":"a"}',
        b'{"Text":"a"}',
        b'{"content":"a"}',
        b'{"text ":"a"}',
        b'{"id":1}',
    ],
)
def test_other_keys_are_unexpected_key(bad: bytes) -> None:
    assert_only(run(good_then(bad)), 2, "unexpected_key")


def test_object_without_keys_is_missing_text() -> None:
    assert_only(run(good_then(b"{}")), 2, "missing_text")
    assert_only(run(good_then(b"{ }")), 2, "missing_text")


@pytest.mark.parametrize(
    "bad",
    [
        b'{"text":"a","text":"b"}',
        b'{"text":"a","text":"a"}',
        b'{"text":"a","\\u0074ext":"b"}',
        b'{"\\u0074ext":"a","text":"b"}',
        b'{"te\\u0078t":"a","text":"b"}',
        b'{"text":1,"text":"b"}',
        b'{"id":1,"id":2}',
    ],
)
def test_duplicate_keys_are_duplicate_key(bad: bytes) -> None:
    assert_only(run(good_then(bad)), 2, "duplicate_key")


def test_text_key_written_with_escapes_is_valid() -> None:
    report = run(jsonl(b'{"\\u0074ext":"a"}', b'{"te\\u0078t":"b"}', b'{"\\u0074\\u0065\\u0078\\u0074":"c"}'))
    assert_valid(report)
    assert report["stats"]["records"] == 3


# --- the text value -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [b"1", b"0", b"1.5", b"null", b"true", b"false", b"[]", b'["a"]', b"{}", b'{"text":"a"}']
)
def test_text_that_is_not_a_string_is_text_not_string(bad: bytes) -> None:
    assert_only(run(good_then(b'{"text":' + bad + b"}")), 2, "text_not_string")


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   ",
        "\n",
        "\t",
        "\n\t",
        " \r\n ",
        "\u3000",
        "\u00a0",
        "\u2028",
        "\u2003\u2009",
        "\x0b\x0c",
        "\x1c",
        "\x85",
    ],
)
@pytest.mark.parametrize("ascii", [True, False])
def test_empty_or_whitespace_only_text_is_empty_text(text: str, ascii: bool) -> None:
    assert_only(run(good_then(rec(text, ascii=ascii))), 2, "empty_text")


def test_escaped_whitespace_only_text_is_empty_text() -> None:
    assert_only(run(good_then(b'{"text":"\\n\\t"}')), 2, "empty_text")
    assert_only(run(good_then(b'{"text":"\\u3000"}')), 2, "empty_text")
    assert_only(run(good_then(b'{"text":"\\u0020\\r"}')), 2, "empty_text")


# Zero-width space, word joiner, BOM, soft hyphen, Mongolian vowel separator, bidi marks, tag characters:
# all Unicode format characters (category Cf), invisible on their own.
INVISIBLE = ["\u200b", "\u200b\u200c\u200d", "\ufeff", " \u2060 ", "\u00ad", "\u180e", "\u200e\u202e", "\U000e0041"]


@pytest.mark.parametrize("text", INVISIBLE)
@pytest.mark.parametrize("ascii", [True, False])
def test_text_of_only_invisible_characters_is_empty_text(text: str, ascii: bool) -> None:
    report = run(good_then(rec(text, ascii=ascii)))
    assert_only(report, 2, "empty_text")
    assert "invisible" in report["errors"][0]["message"]


@pytest.mark.parametrize("text", [" a", "a ", "\u3000x", "\n.", "\u200bx", "x\ufeff", "\x00", "0", "\u180e\u3042"])
def test_text_with_any_visible_character_is_valid(text: str) -> None:
    report = run(jsonl(rec(text), rec(text, ascii=True)))
    assert_valid(report)
    assert report["stats"]["characters"] == 2 * len(text)


@pytest.mark.parametrize(
    "bad",
    [
        b'{"text":"\\ud800"}',
        b'{"text":"\\udc00"}',
        b'{"text":"a\\udfffb"}',
        b'{"text":"\\ud800\\u0041"}',
        b'{"text":"\\ude00\\ud83d"}',  # a pair in the wrong order
        b'{"text":"\\ud83d\\ud83d\\ude00"}',
        b'{"text":"\\ud800 "}',
    ],
)
def test_lone_surrogate_is_lone_surrogate(bad: bytes) -> None:
    assert_only(run(good_then(bad)), 2, "lone_surrogate")


def test_escaped_surrogate_pair_is_one_valid_character() -> None:
    data = jsonl(b'{"text":"\\ud83d\\ude00"}', rec("😀"))
    report = run(data)
    assert_valid(report)
    assert_stats(report, expected_stats(data, ["😀", "😀"]))


# --- empty lines and files ------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [b"", b" ", b"   ", b"\t", b"\r", b" \r", b"\x0c", b"\x0b"])
def test_blank_line_is_empty_line(blank: bytes) -> None:
    assert_only(run(good_then(blank)), 2, "empty_line")


def test_blank_first_and_last_lines() -> None:
    report = run(b"\n" + jsonl(rec("a")) + b"\n")
    assert found(report) == [(1, "empty_line"), (3, "empty_line")]
    assert report["stats"]["lines"] == 3
    assert report["stats"]["records"] == 1


def test_file_that_is_only_newlines() -> None:
    report = run(b"\n\n")
    assert found(report) == [(1, "empty_line"), (2, "empty_line")]
    assert report["stats"]["records"] == 0


def test_empty_file_is_empty_file() -> None:
    report = run(b"")
    assert_only(report, None, "empty_file")
    stats = report["stats"]
    assert (stats["lines"], stats["records"], stats["bytes"], stats["characters"]) == (0, 0, 0, 0)
    assert stats["length_tokens"] is None
    assert stats["exact_duplicates"] == {"count": 0, "rate": 0.0, "examples": []}


def test_empty_file_with_bad_name_reports_both() -> None:
    assert found(run(b"", name="x.csv")) == [(None, "bad_extension"), (None, "empty_file")]


# --- several errors, the cap, codes ---------------------------------------------------------------


def test_errors_on_several_lines_are_all_reported_in_line_order() -> None:
    data = jsonl(
        rec("ok"),
        b"[1]",
        rec("ok 2"),
        b"",
        b'{"text":""}',
        b'{"text":5}',
        rec("ok 3"),
        b'{"text":"a","x":1}',
        b'{"text":"\xff"}',
        b'{"text":"\\ud800"}',
        b'{"text":"a","text":"b"}',
        b"{}",
        b"{bad",
        rec("ok 4"),
    )
    report = run(data)
    assert found(report) == [
        (2, "not_object"),
        (4, "empty_line"),
        (5, "empty_text"),
        (6, "text_not_string"),
        (8, "unexpected_key"),
        (9, "invalid_utf8"),
        (10, "lone_surrogate"),
        (11, "duplicate_key"),
        (12, "missing_text"),
        (13, "invalid_json"),
    ]
    assert report["error_counts"] == {
        "not_object": 1,
        "empty_line": 1,
        "empty_text": 1,
        "text_not_string": 1,
        "unexpected_key": 1,
        "invalid_utf8": 1,
        "lone_surrogate": 1,
        "duplicate_key": 1,
        "missing_text": 1,
        "invalid_json": 1,
    }
    assert report["stats"]["lines"] == 14
    assert report["stats"]["records"] == 4


@pytest.mark.parametrize("chunk_bytes", [16, 4 << 20])
def test_first_100_errors_kept_every_error_counted(chunk_bytes: int) -> None:
    lines = []
    for i in range(1, 301):
        if i % 6 == 0:
            lines.append(rec(f"record {i}"))
        elif i % 2:
            lines.append(b"[]")
        else:
            lines.append(b"")
    report = run(jsonl(*lines), chunk_bytes=chunk_bytes)
    bad = [i for i in range(1, 301) if i % 6]
    assert len(bad) == 250
    assert [e["line"] for e in report["errors"]] == bad[:100]
    assert report["error_counts"] == {"not_object": 150, "empty_line": 100}
    assert sum(report["error_counts"].values()) == 250
    assert report["stats"]["records"] == 50


def test_cap_includes_the_file_name_error() -> None:
    report = run(jsonl(*[b"1"] * 120), name="x.json")
    assert len(report["errors"]) == 100
    assert report["errors"][0]["code"] == "bad_extension"
    assert [e["line"] for e in report["errors"][1:]] == list(range(1, 100))
    assert report["error_counts"] == {"bad_extension": 1, "not_object": 120}


def test_error_codes_are_stable() -> None:
    assert {c.value for c in ErrorCode} == {
        "bad_extension",
        "not_jsonl",
        "empty_file",
        "bom",
        "invalid_utf8",
        "empty_line",
        "line_too_long",
        "invalid_json",
        "not_object",
        "duplicate_key",
        "unexpected_key",
        "missing_text",
        "text_not_string",
        "empty_text",
        "lone_surrogate",
        "read_error",
    }
    assert {c.value for c in WarningCode} == {
        "duplicate_rate",
        "records_too_long",
        "few_records",
        "near_duplicate_rate",
        "validation_overlap",
        "mojibake",
        "language_share",
    }


def test_line_too_long_is_reported_and_the_scan_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "MAX_LINE_BYTES", 100)
    long_line = rec("x" * 400)
    data = jsonl(rec("a"), long_line, rec("b"), b"[]") + long_line
    report = run(data, chunk_bytes=16)
    assert found(report) == [(2, "line_too_long"), (4, "not_object"), (5, "line_too_long")]
    assert report["stats"]["lines"] == 5
    assert report["stats"]["records"] == 2
    assert report["stats"]["bytes"] == len(data)


@pytest.mark.parametrize("length", [99, 100, 101, 110, 130, 250])
def test_line_too_long_does_not_depend_on_chunk_alignment(monkeypatch: pytest.MonkeyPatch, length: int) -> None:
    monkeypatch.setattr(scan_module, "MAX_LINE_BYTES", 100)
    line = b'{"text":"' + b"x" * (length - 11) + b'"}'
    assert len(line) == length
    for prefix in range(4):
        data = jsonl(rec("f" * (1 + prefix)), line, rec("last"))
        for chunk_bytes in (7, 16, 64, 90, 4096):
            report = run(data, chunk_bytes=chunk_bytes)
            codes = [code for line_no, code in found(report) if line_no == 2]
            assert codes == (["line_too_long"] if length > 100 else []), (prefix, chunk_bytes)
            assert report["stats"]["lines"] == 3


# --- statistics -----------------------------------------------------------------------------------


TRICKY_TEXTS = [
    "plain ascii",
    "café",
    "東京は晴れ",
    "emoji 😀 and 👍🏽",
    'quote " backslash \\ slash /',
    "new\nline\ttab\r",
    "é",
    "e\u0301",
    "\x00\x1f\x7f",
    "\u2028\u2029 sep",
    "x" * 33,
]


def encodings(text: str) -> list[bytes]:
    """Several spellings of the same record."""
    escaped = json.dumps(text)[1:-1]
    return [
        rec(text),
        rec(text, ascii=True),
        b'{ "text" :  "' + json.dumps(text, ensure_ascii=False)[1:-1].encode() + b'" }',
        b'{"text":"' + escaped.replace("/", "\\/").encode() + b'"}',
    ]


def test_stats_of_a_small_file_are_exact() -> None:
    lines, texts = [], []
    for text in TRICKY_TEXTS:
        spelled = encodings(text)
        lines.append(spelled[len(lines) % len(spelled)])
        texts.append(text)
    data = jsonl(*lines)
    report = run(data)
    assert_valid(report)
    assert_stats(report, expected_stats(data, texts))
    assert report["stats"]["characters"] == sum(len(t) for t in TRICKY_TEXTS)
    assert report["stats"]["text_bytes"] == sum(len(t.encode()) for t in TRICKY_TEXTS)


def test_stats_count_escapes_as_the_characters_they_stand_for() -> None:
    data = jsonl(
        b'{"text":"a\\nb"}',
        b'{"text":"\\"q\\""}',
        b'{"text":"back\\\\slash"}',
        b'{"text":"\\/"}',
        b'{"text":"\\u00e9t\\u00E9"}',
        b'{"text":"\\ud83d\\ude00!"}',
        b'{"text":"\\b\\f\\r\\t."}',
    )
    texts = ["a\nb", '"q"', "back\\slash", "/", "été", "😀!", "\b\f\r\t."]
    report = run(data)
    assert_valid(report)
    assert_stats(report, expected_stats(data, texts))
    assert report["stats"]["characters"] == 3 + 3 + 10 + 1 + 3 + 2 + 5
    assert report["stats"]["text_bytes"] == 3 + 3 + 10 + 1 + 5 + 5 + 5


def test_stats_with_crlf_and_errors_count_only_records() -> None:
    data = jsonl(rec("東京"), b"[]", rec("a b"), b"", rec("😀"), end=b"\r\n")
    report = run(data)
    assert found(report) == [(2, "not_object"), (4, "empty_line")]
    assert_stats(report, expected_stats(data, ["東京", None, "a b", None, "😀"]))
    assert report["stats"]["bytes"] == len(data)
    assert report["stats"]["characters"] == 2 + 3 + 1
    assert report["stats"]["text_bytes"] == 6 + 3 + 4


def test_estimated_tokens_round_up_per_record() -> None:
    # 1, 4, 5 and 9 bytes: 1 + 1 + 2 + 3 tokens (not ceil(19 / 4) = 5).
    data = jsonl(rec("a"), rec("abcd"), rec("abcde"), rec("東京abc"))
    stats = run(data)["stats"]
    assert stats["text_bytes"] == 19
    assert stats["estimated_tokens"] == 7
    assert stats["length_tokens"] == {"p50": 1, "p90": 3, "p99": 3, "max": 3}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("abcd" * 100, 100),  # English and code: four ASCII characters a token
        ("東京都" * 100, 300),  # kanji: one token a character
        ("ひらがなカタカナ" * 10, 80),  # kana
        ("한국어" * 10, 30),  # Hangul
        ("日本語のtext" * 10, 40 + 10),  # mixed: 4 CJK characters + 4 ASCII characters
        ("Привет" * 8, 30),  # Cyrillic, 2-byte characters: 5/8 of a token each
        ("😀" * 8, 11),  # 4-byte characters: 11/8 each
    ],
)
def test_estimated_tokens_per_script(text: str, want: int) -> None:
    for spelled in (rec(text), rec(text, ascii=True)):
        stats = run(jsonl(spelled))["stats"]
        assert stats["estimated_tokens"] == want
        assert stats["length_tokens"]["max"] == want


def test_length_percentiles_are_nearest_rank() -> None:
    # Records of 1..100 tokens (4 bytes a token), shuffled.
    order = [(i * 37) % 100 + 1 for i in range(100)]
    data = jsonl(*[rec("abcd" * n) for n in order])
    stats = run(data)["stats"]
    assert stats["length_tokens"] == {"p50": 50, "p90": 90, "p99": 99, "max": 100}
    # Power-of-two ranges up to the longest record; they add up to the records.
    assert [b["max_tokens"] for b in stats["length_histogram"]] == [0, 1, 3, 7, 15, 31, 63, 127]
    assert sum(b["records"] for b in stats["length_histogram"]) == stats["records"]
    assert stats["estimated_tokens"] == 5050


def test_length_percentiles_of_a_skewed_file() -> None:
    sizes = [1] * 7 + [10, 20, 300]  # bytes
    texts = ["x" * s for s in sizes]
    data = jsonl(*[rec(t) for t in texts])
    stats = run(data)["stats"]
    assert stats["length_tokens"] == {"p50": 1, "p90": 5, "p99": 75, "max": 75}
    assert_stats(run(data), expected_stats(data, texts))


def test_length_percentiles_of_one_record() -> None:
    assert run(jsonl(rec("東京")))["stats"]["length_tokens"] == {"p50": 2, "p90": 2, "p99": 2, "max": 2}


# --- duplicates -----------------------------------------------------------------------------------


def test_exact_duplicates_written_differently_are_duplicates() -> None:
    data = jsonl(
        rec("é"),
        b'{"text":"\\u00e9"}',
        b'{"text" : "\xc3\xa9"}',
        b'{ "text":"\\u00E9" }',
        rec("other"),
        b'{"\\u0074ext":"\xc3\xa9"}',
        b'{"text":"a/b"}',
        b'{"text":"a\\/b"}',
        b'{"text":"\\u0061/b"}',
    )
    report = run(data)
    assert_valid(report)
    dupes = report["stats"]["exact_duplicates"]
    assert dupes["count"] == 6
    assert dupes["rate"] == round(6 / 9, 6)
    assert dupes["examples"] == [
        {"first_line": 1, "duplicate_line": 2},
        {"first_line": 1, "duplicate_line": 3},
        {"first_line": 1, "duplicate_line": 4},
        {"first_line": 1, "duplicate_line": 6},
        {"first_line": 7, "duplicate_line": 8},
    ]


def test_escaped_control_characters_are_duplicates_of_their_short_escapes() -> None:
    data = jsonl(b'{"text":"a\\nb"}', b'{"text":"a\\u000ab"}', b'{"text":"\\u0001x"}', b'{"text":"\\u0001x"}')
    dupes = run(data)["stats"]["exact_duplicates"]
    assert dupes["count"] == 2
    assert dupes["examples"] == [{"first_line": 1, "duplicate_line": 2}, {"first_line": 3, "duplicate_line": 4}]


def test_different_texts_are_not_duplicates() -> None:
    data = jsonl(rec("a"), rec("A"), rec("a "), rec("é"), rec("e\u0301"), rec("a\\n"), rec("a\n"))
    report = run(data)
    assert report["stats"]["exact_duplicates"] == {"count": 0, "rate": 0.0, "examples": []}
    assert report["stats"]["normalised_duplicates"] is None


def test_duplicate_examples_are_the_earliest_five_repeats() -> None:
    texts = ["a", "b", "c", "b", "a", "d", "c", "a", "b", "e", "d", "a"]
    data = jsonl(*[rec(t) for t in texts])
    dupes = run(data)["stats"]["exact_duplicates"]
    assert dupes["count"] == 7
    assert dupes["rate"] == round(7 / 12, 6)
    assert dupes["examples"] == [
        {"first_line": 2, "duplicate_line": 4},
        {"first_line": 1, "duplicate_line": 5},
        {"first_line": 3, "duplicate_line": 7},
        {"first_line": 1, "duplicate_line": 8},
        {"first_line": 2, "duplicate_line": 9},
    ]


def test_duplicates_skip_lines_without_records() -> None:
    data = jsonl(b"", rec("a"), b"[]", rec("a"), b'{"text":""}', b'{"text":""}')
    report = run(data)
    assert report["stats"]["exact_duplicates"] == {
        "count": 1,
        "rate": 0.5,
        "examples": [{"first_line": 2, "duplicate_line": 4}],
    }


NEAR_DUPLICATES = [
    ("a b", "a  b"),
    ("a b", " a b "),
    ("a b", "a\tb"),
    ("a b", "a\n\nb"),
    ("a b", "a\u3000b"),
    ("a b", "a\u00a0b"),
    ("é", "e\u0301"),
    ("café au lait", "cafe\u0301  au\u2003lait\n"),
]


@pytest.mark.parametrize(("first", "second"), NEAR_DUPLICATES)
def test_normalised_duplicates_only_in_normalised_mode(first: str, second: str) -> None:
    data = jsonl(rec(first), rec("unrelated"), rec(second, ascii=True))
    plain = run(data)
    assert plain["stats"]["exact_duplicates"]["count"] == 0
    assert plain["stats"]["normalised_duplicates"] is None

    near = run(data, normalised_duplicates=True)
    assert near["stats"]["exact_duplicates"]["count"] == 0
    assert near["stats"]["normalised_duplicates"] == {
        "count": 1,
        "rate": round(1 / 3, 6),
        "examples": [{"first_line": 1, "duplicate_line": 3}],
    }


def test_normalised_duplicates_include_exact_duplicates() -> None:
    texts = ["x y", "x y", "x  y", "z", "Z", "z\u200b"]
    data = jsonl(*[rec(t) for t in texts])
    report = run(data, normalised_duplicates=True)
    assert report["stats"]["exact_duplicates"]["count"] == 1
    assert report["stats"]["normalised_duplicates"]["count"] == 2
    assert_stats(report, expected_stats(data, texts, normalised=True))


def test_normalised_stats_of_tricky_texts() -> None:
    texts = [*TRICKY_TEXTS, *[t for pair in NEAR_DUPLICATES for t in pair]]
    data = jsonl(*[encodings(t)[i % 4] for i, t in enumerate(texts)])
    report = run(data, normalised_duplicates=True)
    assert_valid(report)
    assert_stats(report, expected_stats(data, texts, normalised=True))


# --- warnings -------------------------------------------------------------------------------------


def warning_codes(report: dict[str, Any]) -> list[str]:
    return [w["code"] for w in report["warnings"]]


def distinct(n: int) -> list[bytes]:
    return [rec(f"record number {i}") for i in range(n)]


def test_no_warnings_for_a_clean_file() -> None:
    assert run(jsonl(*distinct(150)))["warnings"] == []


def test_duplicate_rate_over_one_percent_warns() -> None:
    lines = distinct(98)
    report = run(jsonl(*lines, lines[0], lines[1]))
    assert report["stats"]["exact_duplicates"]["count"] == 2
    assert report["stats"]["exact_duplicates"]["rate"] == 0.02
    assert warning_codes(report) == ["duplicate_rate"]
    assert "2 of 100" in report["warnings"][0]["message"]
    assert report["valid"] is True  # a warning does not invalidate


def test_duplicate_rate_of_exactly_one_percent_does_not_warn() -> None:
    lines = distinct(99)
    report = run(jsonl(*lines, lines[5]))
    assert report["stats"]["exact_duplicates"]["rate"] == 0.01
    assert warning_codes(report) == []


def test_normalised_duplicates_over_one_percent_warn_with_normalised() -> None:
    lines = [rec(f"w {i}") for i in range(50)] + [rec(f"w  {i}") for i in range(50)]
    report = run(jsonl(*lines), normalised_duplicates=True)
    assert report["stats"]["normalised_duplicates"]["count"] == 50
    assert report["stats"]["exact_duplicates"]["count"] == 0
    assert warning_codes(report) == ["duplicate_rate"]
    assert "after normalisation" in report["warnings"][0]["message"]
    assert warning_codes(run(jsonl(*lines))) == []  # exact mode counts exact duplicates only


def test_records_longer_than_max_length_warn() -> None:
    # 8 bytes = 2 tokens (not over 2), 9 bytes = 3 tokens, 40 bytes = 10 tokens.
    data = jsonl(rec("x" * 8), rec("x" * 9), rec("x" * 40), rec("x"))
    report = run(data, max_length=2)
    assert report["stats"]["max_length"] == 2
    assert report["stats"]["records_over_max_length"] == 2
    assert warning_codes(report) == ["records_too_long"]
    assert report["warnings"][0]["message"].startswith("2 records")


def test_records_at_max_length_do_not_warn() -> None:
    report = run(jsonl(rec("x" * 8), rec("東京")), max_length=2)
    assert report["stats"]["records_over_max_length"] == 0
    assert report["warnings"] == []


def test_without_max_length_there_is_no_length_count() -> None:
    stats = run(jsonl(rec("x" * 1000)))["stats"]
    assert stats["max_length"] is None
    assert stats["records_over_max_length"] is None


@pytest.mark.parametrize(
    ("records", "epochs", "batch", "warns"),
    [
        (10, 1, 1, True),
        (99, 1, 1, True),
        (100, 1, 1, False),
        (50, 2, 1, False),
        (50, 1, 1, True),
        (120, 10, 16, True),  # 75 steps
        (160, 10, 16, False),  # 100 steps
        (159, 10, 16, True),  # 99.4 steps
    ],
)
def test_few_records_warns_below_100_optimizer_steps(records: int, epochs: int, batch: int, warns: bool) -> None:
    report = run(jsonl(*distinct(records)), max_epochs=epochs, global_batch_size=batch)
    assert warning_codes(report) == (["few_records"] if warns else [])


def test_few_records_needs_the_recipe_limits() -> None:
    assert run(jsonl(*distinct(3)))["warnings"] == []
    assert run(jsonl(*distinct(3)), global_batch_size=256)["warnings"] == []
    assert run(jsonl(*distinct(3)), max_epochs=2)["warnings"] == []


def test_all_warnings_together_in_order() -> None:
    lines = distinct(8)
    report = run(jsonl(*lines, lines[0], rec("y" * 100)), max_length=5, max_epochs=1, global_batch_size=1)
    assert warning_codes(report) == ["duplicate_rate", "records_too_long", "few_records"]
    assert all(set(w) == {"code", "message"} and w["message"] for w in report["warnings"])


# --- JSON shape -----------------------------------------------------------------------------------

STATS_KEYS = {
    "lines",
    "records",
    "bytes",
    "characters",
    "text_bytes",
    "estimated_tokens",
    "token_estimate",
    "length_tokens",
    "length_histogram",
    "exact_duplicates",
    "normalised_duplicates",
    "max_length",
    "records_over_max_length",
}


@pytest.mark.parametrize("data", [b"", jsonl(rec("a"), b"[]", rec("a"))])
def test_report_json_shape(data: bytes) -> None:
    report = run(data, normalised_duplicates=True, max_length=10, max_epochs=1, global_batch_size=1)
    assert list(report) == ["valid", "errors", "error_counts", "warnings", "stats"]
    assert isinstance(report["valid"], bool)
    for error in report["errors"]:
        assert list(error) == ["line", "code", "message"]
        assert error["line"] is None or isinstance(error["line"], int)
        assert error["code"] in {c.value for c in ErrorCode}
        assert isinstance(error["message"], str)
        assert type(error["code"]) is str
    for warning in report["warnings"]:
        assert list(warning) == ["code", "message"]
        assert type(warning["code"]) is str
    assert set(report["stats"]) == STATS_KEYS
    assert json.loads(json.dumps(report)) == report


def test_report_json_values_for_a_small_file() -> None:
    data = jsonl(rec("a"), b"[]", rec("a"))
    report = run(data, normalised_duplicates=True)
    assert report == {
        "valid": False,
        "errors": [{"line": 2, "code": "not_object", "message": report["errors"][0]["message"]}],
        "error_counts": {"not_object": 1},
        "warnings": [report["warnings"][0]],
        "stats": {
            "lines": 3,
            "records": 2,
            "bytes": len(data),
            "characters": 2,
            "text_bytes": 2,
            "estimated_tokens": 2,
            "token_estimate": TOKEN_ESTIMATE,
            "length_tokens": {"p50": 1, "p90": 1, "p99": 1, "max": 1},
            "length_histogram": [
                {"min_tokens": 0, "max_tokens": 0, "records": 0},
                {"min_tokens": 1, "max_tokens": 1, "records": 2},
            ],
            "exact_duplicates": {"count": 1, "rate": 0.5, "examples": [{"first_line": 1, "duplicate_line": 3}]},
            "normalised_duplicates": {
                "count": 1,
                "rate": 0.5,
                "examples": [{"first_line": 1, "duplicate_line": 3}],
            },
            "max_length": None,
            "records_over_max_length": None,
        },
    }
    assert report["warnings"][0]["code"] == "duplicate_rate"


def test_report_object_agrees_with_its_json() -> None:
    report = validate_stream(io.BytesIO(jsonl(rec("a"), b"1")), "d.jsonl")
    assert report.valid is False
    assert report.name == "d.jsonl"
    assert report.errors[0].code is ErrorCode.NOT_OBJECT
    assert report.errors[0].line == 2
    assert report.error_counts == {"not_object": 1}


# --- files that are no JSON Lines at all: one error that names the format and the fix ----------------

NOT_JSONL = {
    "gzip": (gzip.compress(b'{"text": "a"}\n' * 200), "gzip", "gunzip"),
    "zip": (b"PK\x03\x04" + bytes(range(256)) * 4, "zip", "unzip"),
    "json array": (b'[\n  {"text": "a"},\n  {"text": "b"}\n]\n', "JSON array", "jq -c '.[]'"),
    "json array on one line": (b'[{"text": "a"}, {"text": "b"}]', "JSON array", "jq -c '.[]'"),
    "pretty-printed json": (b'{\n  "text": "a"\n}\n', "pretty-printed JSON", "jq -c ."),
    "pretty-printed json, key on the first line": (b'{"text":\n  "a"}\n', "pretty-printed JSON", "jq -c ."),
    "csv": (b'text,source\nhello world,web\n"quoted, text",book\nmore,web\n', "CSV", '{"text": "..."}'),
    "tsv": (b"text\tsource\nhello world\tweb\nmore\tweb\n", "TSV", '{"text": "..."}'),
}


@pytest.mark.parametrize("name", list(NOT_JSONL))
def test_a_file_that_is_no_jsonl_gets_one_error_naming_its_format(name: str) -> None:
    data, kind, fix = NOT_JSONL[name]
    report = run(data)
    assert_only(report, None, "not_jsonl")
    message = report["errors"][0]["message"]
    assert kind in message and fix in message, message
    assert report["stats"]["bytes"] == len(data)
    assert report["stats"]["records"] == 0
    sharded = run(data, chunk_bytes=7)
    assert sharded == report


@pytest.mark.parametrize(
    "data",
    [
        b'{"text": "a, b, c"}\n{"text": "d, e, f"}\n',  # commas inside records
        b'{"text": "a"}\n[1, 2]\n[3, 4]\n',  # arrays after a valid first line: line errors
        b"hello\nworld\n",  # plain text: line errors
        b"a,b\rc,d\ne,f\n\x00,x\n",  # a lone carriage return and a NUL: not CSV, line errors
    ],
)
def test_jsonl_or_plain_text_is_not_taken_for_another_format(data: bytes) -> None:
    assert "not_jsonl" not in run(data)["error_counts"]


def test_normalised_duplicates_and_their_rate_warning_show_in_the_text_output(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(jsonl(rec("a b"), rec("a  b"), rec(" a b"), rec("c")))
    result = CliRunner().invoke(app, ["validate-dataset", str(path), "--normalised"])
    assert result.exit_code == 0, result.output
    assert "0 exact duplicates, 2 normalised duplicates" in result.output
    assert (
        "warning: duplicate_rate: 2 of 4 records (50.0%) repeat an earlier record after normalisation" in result.output
    )
    exact = CliRunner().invoke(app, ["validate-dataset", str(path)])
    assert "normalised duplicates" not in exact.output and "duplicate_rate" not in exact.output
