"""The vectorised fast path (block.py) must give exactly the report of the per-line rules, at any chunk
size and when a file is scanned in parts and merged (sharding)."""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any
from unittest import mock

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from novacpt.dataset import DatasetOptions, build_report, scan_stream, validate_stream
from novacpt.dataset import block as block_module
from novacpt.dataset import scan as scan_module
from novacpt.dataset.blank import is_blank
from novacpt.dataset.block import scan_block
from novacpt.dataset.line_check import check_line
from novacpt.dataset.records import BlockRecords
from novacpt.dataset.text_hash import normalise, normalised_hash, text_hash

BOM = b"\xef\xbb\xbf"
CHUNKS = [7, 64, 4096, 4 << 20]
NAME = "data.jsonl"


@contextmanager
def fast_path_disabled() -> Iterator[None]:
    with mock.patch.object(scan_module, "scan_block", lambda *args, **kwargs: None):
        yield


@contextmanager
def counting_fast_blocks() -> Iterator[list[int]]:
    """Counts the blocks the fast path accepted (as a one-element list)."""
    accepted = [0]
    real = scan_module.scan_block

    def spy(data: Any, *, normalise: bool) -> Any:
        result = real(data, normalise=normalise)
        accepted[0] += result is not None
        return result

    with mock.patch.object(scan_module, "scan_block", spy):
        yield accepted


def report_of(data: bytes, **options: Any) -> dict[str, Any]:
    return validate_stream(io.BytesIO(data), NAME, DatasetOptions(**options)).to_json_dict()


def exact_report(data: bytes, **options: Any) -> dict[str, Any]:
    """The report computed by the per-line rules only."""
    with fast_path_disabled():
        return report_of(data, **options)


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Field by field first (readable failures), then the whole object."""
    assert list(got) == list(want)
    for key in ("valid", "error_counts", "errors", "warnings"):
        assert got[key] == want[key], key
    for key in want["stats"]:
        assert got["stats"][key] == want["stats"][key], f"stats.{key}"
    assert got == want


def check_all_paths(data: bytes, chunks: list[int] = CHUNKS, **options: Any) -> dict[str, Any]:
    """Fast path at every chunk size == per-line path; returns the reference report."""
    opts = {"normalised_duplicates": True, "max_length": 3, "max_epochs": 1, "global_batch_size": 1, **options}
    want = exact_report(data, **opts)
    for chunk in chunks:
        assert_same(report_of(data, chunk_bytes=chunk, **opts), want)
    # Without normalised duplicates too (the fast path skips that work then).
    plain = {**opts, "normalised_duplicates": False}
    assert_same(report_of(data, **plain), exact_report(data, **plain))
    return want


def lines(*items: bytes, end: bytes = b"\n") -> bytes:
    return b"".join(item + end for item in items)


def rec(text: str, *, ascii: bool = False) -> bytes:
    return json.dumps({"text": text}, ensure_ascii=ascii).encode("utf-8")


# --- hand-made tricky inputs ----------------------------------------------------------------------

GOOD = rec("filler record")
# Every character Python's str.split() splits on (str.isspace), ASCII and Unicode.
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]
LONG_TEXT = "long " * 30_000 + "東京 😀 é"

TRICKY: dict[str, bytes] = {
    "key with escape": lines(GOOD, b'{"\\u0074ext":"a"}', b'{"te\\u0078t":"a"}', GOOD),
    "duplicate key with escape": lines(GOOD, b'{"text":"a","\\u0074ext":"b"}', GOOD),
    "duplicate key after a short value": lines(GOOD, b'{"text":1,"text":"b"}', b'{"text":"","text":"\\u00e9"}', GOOD),
    # The shortest start of a line before a second member's value, in a block the raw path takes.
    "duplicate key after a one-byte value": lines(GOOD, b'{"text":1,"text":"b"}', GOOD),
    "duplicate key with a quote escaped as \\u0022": lines(
        GOOD, b'{"text":"x","text":"\\u0022\\u0022\\u0022\\u0022"}', GOOD
    ),
    # Two objects on a line and a blank line elsewhere: msgspec finds as many values as lines.
    "two objects and a blank line": lines(b'{"text":"a"}{"text":"b"}', b"", GOOD),
    "two objects and a whitespace line": lines(GOOD, b'{"text":"a"} {"text":"b"}', b"   ", GOOD),
    "two objects, crlf blank": lines(b'{"text":"a"}\r{"text":"b"}', b"\r", GOOD, end=b"\r\n"),
    "value spanning lines": lines(b'{"text":', b'"a b c d e"}', GOOD),
    "object spanning lines": lines(b'{"text":"a b c d e"', b'}{"text":"x"}', GOOD),
    "whitespace before the brace": lines(b'{"text":"abc" }', b'{"text":"abc"\t}', GOOD),
    "whitespace everywhere": lines(b' {"text":"abc"}', b'{ "text" : "abc" }', b'{"text":"abc"} ', GOOD),
    "cr inside a line": lines(b'{"text":"a"\r}', b'{"text"\r:"b"}', b'{"text":"a"}\r\r', GOOD),
    "nested object as text": lines(b'{"text":{"text":"a"}}', b'{"text":["a"]}', b'{"text":{"a":"b"}}', GOOD),
    "text not string": lines(b'{"text":12345678}', b'{"text":null}', b'{"text":true}', GOOD),
    "unicode whitespace only": b"".join(rec(t) + b"\n" for t in ["\u3000", "\u00a0", "\u2028", "\x85", "\u1680"])
    + lines(b'{"text":"\\u3000"}', b'{"text":"\\n\\t"}', b'{"text":""}', b'{"text":" "}', GOOD),
    "texts starting with a space": lines(b'{"text":" a"}', b'{"text":"  b  "}', rec("\u3000c"), rec("\u00a0d"), GOOD),
    "texts starting with an escape": lines(b'{"text":"\\na"}', b'{"text":"\\\\"}', b'{"text":"\\u0041"}', GOOD),
    "very long lines": lines(GOOD, rec(LONG_TEXT), rec(LONG_TEXT, ascii=True), b"[]", rec(LONG_TEXT), GOOD),
    "last line without newline": lines(GOOD, rec("é")) + rec("last"),
    "last line is bad without newline": lines(GOOD) + b'{"text":',
    "last line cr only": lines(GOOD) + b"\r",
    "lone cr line": lines(GOOD, b"\r", GOOD),
    "escaped quotes and backslashes": lines(
        b'{"text":"\\""}', b'{"text":"a\\\\"}', b'{"text":"\\\\\\""}', b'{"text":"\\\\\\\\"}', b'{"text":"\\"}"}', GOOD
    ),
    "quote count attack": lines(b'{"text":"a","text":"b"}', b'{"text":"\\"\\""}', GOOD),
    "escaped quotes in a dropped duplicate": lines(
        b'{"text":"\\"\\"","text":"b"}', b'{"x\\"":"\\"","text":"a"}', b'{"text":"a\\"","text":"\\""}', GOOD
    ),
    # The parsed path reads a block as one JSON array with a comma before each line break: none may pass.
    "a string spanning lines and two values on a line": lines(b'{"text":"a', b'b"}', b'{"text":"c"},{"text":"d"}'),
    "an object spanning lines": lines(b'{"text":"a"', b',"text":"b"}', b'{"text":"c"},{"text":"d"}', GOOD),
    "commas around values": lines(b',{"text":"a"}', b'{"text":"a"},', b",", b'{"text":"b"} ,', GOOD),
    "brackets around values": lines(b"[", b'{"text":"a"}', b"]", b'{"text":"a"}]', b'[{"text":"a"}', GOOD),
    "a line that is a comma": lines(GOOD, b",", GOOD) + b",",
    "slash escapes": lines(b'{"text":"a/b"}', b'{"text":"a\\/b"}', b'{"text":"\\/\\/"}', GOOD),
    # One text spelled every way a writer may: the hash of its canonical form must not see the spelling.
    "control characters spelled every way": lines(
        b'{"text":"a\\u001Fb"}', b'{"text":"a\\u001fb"}', rec("a\x1fb"), rec("a\x1fb", ascii=True), GOOD
    )
    + lines(b'{"text":"a\\tb"}', b'{"text": "a\\u0009b"}', b'{"text":"a\\u005c\\u0022"}', b'{"text":"a\\\\\\""}'),
    "duplicate keys in the plain spellings": lines(
        b'{"text": "a", "text": "b"}', b'{"text":"a","text":"b"}', b'{"text":"\\"","text":"\\""}', GOOD
    ),
    "slash escapes in non-ASCII texts": lines(
        rec("é/"), b'{"text":"\xc3\xa9\\/"}', b'{"text": "\xe6\x9d\xb1\\/\\n"}', rec("東/\n"), GOOD
    ),
    "a brace or a quote at the end of a text": lines(b'{"text":"a}"}', b'{"text":"\\"}"}', b'{"text": "}\\""}', GOOD),
    "surrogates": lines(b'{"text":"\\ud83d\\ude00"}', b'{"text":"\\ud800"}', b'{"text":"\\udc00x"}', rec("😀"), GOOD),
    "invalid utf8": lines(
        GOOD, b'{"text":"\xff"}', b'{"te\xffxt":"a"}', b'{"text":"\xed\xa0\x80"}', b'{"\xc3":1}', GOOD
    ),
    "control characters": lines(b'{"text":"a\tb"}', b'{"text":"\x7f"}', b'{"text":"\\u0000"}', b'{"text":"\\u001f"}'),
    "nan": lines(b'{"text":NaN}', b'{"text":"NaN"}', GOOD),
    "extra keys": lines(b'{"text":"a","id":1}', b'{"id":"x"}', b"{}", GOOD),
    "short lines": lines(b"{}", b"[]", b"1", b'""', b'"x"', b"{", GOOD),
    "bom": BOM + lines(GOOD, GOOD),
    "bom and bad first line": BOM + lines(b"[]", GOOD),
    "bom mid file": lines(GOOD, BOM + GOOD),
    "nfc and nfd": lines(
        rec("é"), rec("e\u0301"), rec("e\u0301", ascii=True), rec("a\u0301b"), rec("한"), rec("ᄒ\u1161\u11ab")
    ),
    "normalised duplicates": lines(rec("a b"), rec("a  b"), rec(" a b"), rec("a b "), rec("a\u3000b"), rec("a\\tb")),
    "unicode spaces inside": lines(rec("a\u2009b"), rec("a\u202fb"), rec("a\u205fb"), rec("a\u180eb"), rec("a\u200bb")),
    "duplicates written differently": lines(
        rec("é"), b'{"text":"\\u00e9"}', b'{"text" : "\xc3\xa9"}', rec("é", ascii=True)
    ),
    "many duplicates": lines(*[rec(f"r{i % 7}") for i in range(60)]),
    "crlf everywhere": lines(GOOD, rec("é"), b"[]", b"", rec("東京"), end=b"\r\n"),
    "long texts with space runs": lines(
        rec("a  " * 1500), rec("a " * 1500), rec(" b" * 1500 + " "), rec("\u3000x \t" * 800), rec("e\u0301 " * 900)
    )
    + lines(rec("a " * 1500), rec("a" + "   a" * 1000), rec(("a " * 1500).strip())),
    "every whitespace character": lines(
        *[rec(f"a{c}b") for c in WHITESPACE],
        *[rec(f"a {c}b", ascii=True) for c in WHITESPACE],
        *[rec(f"{c}a b{c}") for c in WHITESPACE],
        *[rec(c) for c in WHITESPACE],
    ),
    "only blank lines": b"\n\n\r\n  \n",
    "empty file": b"",
    "only a newline": b"\n",
}


@pytest.mark.parametrize("name", list(TRICKY))
def test_fast_path_equals_exact_path_on_tricky_input(name: str) -> None:
    check_all_paths(TRICKY[name])


def test_a_text_spelled_differently_is_one_text() -> None:
    want = check_all_paths(TRICKY["control characters spelled every way"])
    assert want["valid"] and want["stats"]["records"] == 9
    # "a\x1fb" four ways, "a\tb" two ways, 'a\\"' two ways.
    assert want["stats"]["exact_duplicates"]["count"] == 5


def test_duplicate_keys_in_the_plain_spellings_are_errors() -> None:
    want = check_all_paths(TRICKY["duplicate keys in the plain spellings"])
    assert [(e["line"], e["code"]) for e in want["errors"]] == [(i, "duplicate_key") for i in (1, 2, 3)]


def test_two_objects_on_a_line_with_a_blank_line_elsewhere() -> None:
    data = TRICKY["two objects and a blank line"]
    want = check_all_paths(data)
    assert [(e["line"], e["code"]) for e in want["errors"]] == [(1, "invalid_json"), (2, "empty_line")]
    assert want["stats"]["records"] == 1


def test_fast_path_is_used_for_clean_blocks() -> None:
    texts = ["plain", "é", "東京", "😀", 'a "q" b', "a\\b", "a/b", "x\ny", "\x00", "e\u0301", " lead", "two  spaces"]
    data = lines(*[rec(t) for t in texts], *[rec(t, ascii=True) for t in texts])
    with counting_fast_blocks() as accepted:
        fast = report_of(data, normalised_duplicates=True)
    assert accepted[0] == 1
    assert_same(fast, exact_report(data, normalised_duplicates=True))
    assert fast["stats"]["records"] == 2 * len(texts)
    assert fast["stats"]["exact_duplicates"]["count"] == len(texts)


def test_large_file_with_errors_uses_sub_blocks_and_stays_exact() -> None:
    # Over 64 KiB in one 4 MiB chunk: the block fails, its 64 KiB sub-blocks are retried.
    records = [rec(f"record {'é' if k % 3 else 'x'} {k}") for k in (i % 500 for i in range(9000))]
    records[10] = b"[]"
    records[11] = b""
    records[8999] = b'{"text":"a","text":"b"}'
    data = lines(*records)
    assert len(data) > 3 * scan_module.SUB_BLOCK_BYTES
    with counting_fast_blocks() as accepted:
        fast = report_of(data, normalised_duplicates=True)
    assert accepted[0] >= 2  # the sub-blocks without errors
    want = exact_report(data, normalised_duplicates=True)
    assert_same(fast, want)
    assert [(e["line"], e["code"]) for e in want["errors"]] == [
        (11, "not_object"),
        (12, "empty_line"),
        (9000, "duplicate_key"),
    ]
    assert want["stats"]["exact_duplicates"]["count"] == 8997 - 500


class ShortReads(io.RawIOBase):
    """A stream that returns at most `most` bytes a read (sockets and S3 bodies may)."""

    def __init__(self, data: bytes, most: int) -> None:
        self.data, self.most, self.at = data, most, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = len(self.data) if size < 0 else size
        out = self.data[self.at : self.at + min(size, self.most)]
        self.at += len(out)
        return out


@pytest.mark.parametrize("most", [1, 2, 5])
@pytest.mark.parametrize("name", ["bom", "bom and bad first line", "crlf everywhere", "escaped quotes and backslashes"])
def test_short_reads_give_the_same_report(name: str, most: int) -> None:
    data = TRICKY[name]
    want = report_of(data)
    got = validate_stream(ShortReads(data, most), NAME, DatasetOptions()).to_json_dict()
    assert_same(got, want)


# --- scan_block against check_line, record by record ----------------------------------------------


def pieces_text(pieces: list[str], *, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Texts made of arbitrary characters and of the given tricky pieces."""
    piece = st.one_of(st.characters(codec="utf-8"), st.sampled_from(pieces))
    return st.lists(piece, min_size=min_size, max_size=max_size).map("".join)


TEXTS = pieces_text(
    [*WHITESPACE, "  ", "é", "e\u0301", "\\", '"', "/", "\u180e", "\u200b"],
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=12))
def test_scan_block_matches_check_line_record_by_record(texts: list[str]) -> None:
    encoded = [msgspec.json.encode({"text": t}) for t in texts]
    data = lines(*encoded)
    block = scan_block(data, normalise=True)
    valid = [not is_blank(t) and not any("\ud800" <= c <= "\udfff" for c in t) for t in texts]
    if all(valid):
        # A compact msgspec-encoded block of valid records is the fast path's own case.
        assert block is not None
    if block is None:
        return
    outcomes = [check_line(line) for line in encoded]
    assert outcomes == texts
    assert block.hashes.tolist() == [text_hash(t) for t in texts]
    assert block.norm_hashes is not None
    assert block.norm_hashes.tolist() == [normalised_hash(t) for t in texts]
    assert block.text_bytes.tolist() == [len(t.encode("utf-8")) for t in texts]
    assert block.characters.tolist() == [len(t) for t in texts]
    assert scan_block(data, normalise=False) is not None


@pytest.mark.parametrize("space", WHITESPACE)
def test_normalise_collapses_every_whitespace_character(space: str) -> None:
    assert len(WHITESPACE) == 29
    assert normalise(f"{space}a{space}{space}b {space}c{space}") == "a b c"
    long = f"{space}x{space}{space}" * 1000  # the vectorised branch
    assert normalise(long) == " ".join(["x"] * 1000)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.integers(1, 400))
def test_normalise_matches_its_definition(text: str, repeat: int) -> None:
    text = text * repeat  # long texts take the vectorised branch
    want = " ".join(unicodedata.normalize("NFC", text).split())
    assert normalise(text) == want
    assert normalised_hash(text) == text_hash(want)


# --- generated files ------------------------------------------------------------------------------


def _spell(text: str, how: int) -> bytes:
    if how == 0:
        return msgspec.json.encode({"text": text})
    if how == 1:
        return json.dumps({"text": text}, ensure_ascii=True).encode()
    if how == 2:
        return json.dumps({"text": text}, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if how == 3:
        return b'{ "text" : ' + json.dumps(text).replace("/", "\\/").encode() + b" }"
    return b'{"\\u0074ext":' + msgspec.json.encode(text) + b"}"


GEN_TEXT = pieces_text(
    ["a", "b", " ", "  ", "é", "e\u0301", "\u3000", "\n", "\\", '"', "/", "😀", "東"], min_size=0, max_size=12
)
# Japanese prose, source code and invisible characters: the shapes the two block paths split between.
CJK_TEXT = pieces_text(
    ["東京", "です。", "カタカナ", "、", "「引用」", "（注）", "한국어", "\u3000", "\n", "\u200b", "\ufeff", "𠮷"],  # noqa: RUF001
    min_size=0,
    max_size=10,
)
CODE_TEXT = pieces_text(
    ['print("x")\n', "\tif a:\n", "C:\\Users\\nova", '\\"', '"key": "v"', "\\\\", "/", "\\u0041", "  "],
    min_size=0,
    max_size=10,
)

RECORD = st.builds(_spell, st.one_of(GEN_TEXT, CJK_TEXT, CODE_TEXT), st.integers(0, 4))
CORRUPT = st.one_of(
    st.binary(max_size=24),
    st.builds(lambda r, k: r[: max(0, len(r) - k)], RECORD, st.integers(1, 8)),  # truncated
    st.sampled_from([b"", b" ", b"\r", b"\t", b"{}", b"[]", b"null", b'"x"', b"NaN", BOM]),
    st.builds(lambda t: b'{"text":' + json.dumps(t).encode() + b',"id":1}', GEN_TEXT),  # extra key
    st.builds(lambda t: b'{"text":"a","text":' + json.dumps(t).encode() + b"}", GEN_TEXT),  # duplicate key
    st.builds(lambda a, b: a + b, RECORD, RECORD),  # two objects on a line
    st.builds(lambda r, k: r[:k] + b"\xe3" + r[k:], RECORD, st.integers(2, 12)),  # a cut CJK character
    st.builds(lambda t: b'{"text":' + json.dumps(t).encode() + b',"text":"x"}', CJK_TEXT),  # escaped, duplicate key
    st.sampled_from([b'{"text":"\\ud800"}', b'{"text":"\\udc00"}', b'{"text":1}', b'{"text":"\xff"}']),
)


@st.composite
def files(draw: st.DrawFn) -> bytes:
    items: list[bytes] = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.integers(0, 9))
        if kind < 6:
            items.append(draw(RECORD))
        elif kind < 8 or not items:
            items.append(draw(CORRUPT))
        else:
            items.append(draw(st.sampled_from(items)))  # duplicate an earlier line
    out = b"".join(item + draw(st.sampled_from([b"\n", b"\n", b"\r\n"])) for item in items)
    if out and draw(st.booleans()):
        out = out.rstrip(b"\n")  # no final newline
    if draw(st.integers(0, 9)) == 0:
        out = BOM + out
    return out


@contextmanager
def block_path(name: str) -> Iterator[None]:
    """Every block through one path (the parsed path only, or the raw path whatever the densities), or tiny blocks."""
    if name == "parsed only":
        with mock.patch.object(block_module, "_scan_raw", lambda *args, **kwargs: block_module._PARSE):
            yield
    elif name == "raw where it can":
        with mock.patch.object(block_module, "DENSE_ESCAPES", 0), mock.patch.object(block_module, "DENSE_WIDE", 0):
            yield
    elif name == "tiny blocks":  # many blocks, each failure retried in parts
        with mock.patch.object(scan_module, "BLOCK_BYTES", 96), mock.patch.object(scan_module, "SUB_BLOCK_BYTES", 24):
            yield
    else:
        yield


PATHS = ["as chosen", "parsed only", "raw where it can", "tiny blocks"]


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_fast_path_equals_exact_path_on_generated_files(path: str, data: bytes) -> None:
    with block_path(path):
        check_all_paths(data)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", list(TRICKY))
def test_each_block_path_equals_exact_path_on_tricky_input(path: str, name: str) -> None:
    with block_path(path):
        check_all_paths(TRICKY[name], chunks=[64, 4 << 20])


@pytest.mark.parametrize("path", PATHS)
def test_each_block_path_accepts_clean_japanese_escaped_and_code_blocks(path: str) -> None:
    texts = [
        "東京都の人口は増えています。\n次の段落。",
        "カタカナ「引用」",
        'def f(x):\n\treturn "a\\b"',
        "\u3000先頭の空白",
    ]
    data = lines(*[rec(t) for t in texts], *[rec(t, ascii=True) for t in texts])

    def no_line_by_line(*args: Any) -> None:
        raise AssertionError("a clean block went line by line")

    with (
        block_path(path),
        counting_fast_blocks() as accepted,
        mock.patch.object(scan_module._Scanner, "_per_line", no_line_by_line),
    ):
        fast = report_of(data, normalised_duplicates=True)
    assert accepted[0] >= 1
    assert_same(fast, exact_report(data, normalised_duplicates=True))
    assert fast["stats"]["exact_duplicates"]["count"] == len(texts)


def test_blank_starts_list_every_invisible_character() -> None:
    starts = set()
    for code in range(0x80, 0x110000):
        char = chr(code)
        if not 0xD800 <= code < 0xE000 and (char.isspace() or unicodedata.category(char) == "Cf"):
            starts.add(char.encode("utf-8")[:2].hex().upper())
    assert set(block_module.BLANK_STARTS.split()) == starts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORD, min_size=1, max_size=40), st.sampled_from([1, 5, 7, 64]))
def test_fast_path_equals_exact_path_on_valid_files(items: list[bytes], chunk: int) -> None:
    data = lines(*items)
    want = check_all_paths(data, chunks=[chunk, 4 << 20])
    texts = [check_line(item) for item in items]
    records = [t for t in texts if isinstance(t, str)]
    assert want["stats"]["records"] == len(records)
    assert want["stats"]["characters"] == sum(len(t) for t in records)
    assert want["stats"]["text_bytes"] == sum(len(t.encode()) for t in records)
    normal = [" ".join(unicodedata.normalize("NFC", t).split()) for t in records]
    assert want["stats"]["exact_duplicates"]["count"] == len(records) - len(set(records))
    assert want["stats"]["normalised_duplicates"]["count"] == len(records) - len(set(normal))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([1, 3, 7, 64, 4 << 20]))
def test_arbitrary_bytes_always_give_a_report(data: bytes, chunk: int) -> None:
    report = report_of(data, chunk_bytes=chunk, normalised_duplicates=True)
    stats = report["stats"]
    assert stats["bytes"] == len(data)
    assert_same(report, exact_report(data, normalised_duplicates=True))
    if "not_jsonl" in report["error_counts"]:  # one error for the whole file, no line rules
        assert report["error_counts"] == {"not_jsonl": 1} and stats["lines"] == 0
        return
    assert stats["records"] <= stats["lines"]
    body = data.removeprefix(BOM)
    assert stats["lines"] == (body.count(b"\n") + (not body.endswith(b"\n")) if body else 0)
    assert sum(report["error_counts"].values()) >= stats["lines"] - stats["records"]
    assert report["valid"] == (not report["errors"])


# --- sharding: scanning parts and merging equals one pass -----------------------------------------


def sharded_report(data: bytes, cuts: list[int], **options: Any) -> dict[str, Any]:
    opts = DatasetOptions(**options)
    bounds = [0, *cuts, len(data)]
    scans = [
        scan_stream(
            io.BytesIO(data[start:stop]),
            normalised=opts.normalised_duplicates,
            file_start=index == 0,
            chunk_bytes=opts.chunk_bytes,
        )
        for index, (start, stop) in enumerate(pairwise(bounds))
    ]
    return build_report(NAME, scans, opts).to_json_dict()


def line_boundaries(data: bytes) -> list[int]:
    """Offsets just after each newline, inside the file."""
    return [i + 1 for i, byte in enumerate(data) if byte == 10 and i + 1 < len(data)]


def check_sharding(data: bytes, cuts: list[int], **options: Any) -> dict[str, Any]:
    opts = {"normalised_duplicates": True, "max_length": 3, "max_epochs": 1, "global_batch_size": 1, **options}
    want = report_of(data, **opts)
    assert_same(sharded_report(data, cuts, **opts), want)
    assert_same(sharded_report(data, cuts, chunk_bytes=7, **opts), want)
    return want


def test_sharding_with_errors_at_the_boundaries_and_duplicates_across_parts() -> None:
    data = lines(rec("a"), rec("b"), b"[]", b"", rec("a"), b'{"text":"x","text":"y"}', rec("b"), rec("b  "), rec("c"))
    starts = [0, *line_boundaries(data)]
    cuts = [starts[3], starts[5]]  # part 1: lines 1-3, part 2: lines 4-5, part 3: lines 6-9
    want = check_sharding(data, cuts)
    assert [(e["line"], e["code"]) for e in want["errors"]] == [
        (3, "not_object"),
        (4, "empty_line"),
        (6, "duplicate_key"),
    ]
    assert want["stats"]["exact_duplicates"]["examples"] == [
        {"first_line": 1, "duplicate_line": 5},
        {"first_line": 2, "duplicate_line": 7},
    ]
    assert want["stats"]["normalised_duplicates"]["count"] == 3


@pytest.mark.parametrize("name", ["bom", "bom and bad first line", "last line without newline", "crlf everywhere"])
def test_sharding_tricky_files_at_every_pair_of_boundaries(name: str) -> None:
    data = TRICKY[name]
    bounds = line_boundaries(data)
    for i, first in enumerate(bounds):
        check_sharding(data, [first])
        for second in bounds[i + 1 :]:
            check_sharding(data, [first, second])


def test_sharding_keeps_the_first_100_errors_across_parts() -> None:
    data = lines(*[b"[]" if i % 4 else rec(f"r{i}") for i in range(240)])
    bounds = line_boundaries(data)
    want = check_sharding(data, [bounds[59], bounds[150]])
    assert len(want["errors"]) == 100
    assert want["error_counts"] == {"not_object": 180}
    assert want["errors"][-1]["line"] == 134


def test_sharding_with_over_long_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan_module, "MAX_LINE_BYTES", 60)
    data = lines(rec("a"), rec("x" * 55), rec("a"), rec("y" * 48), b"[]", rec("z" * 200), rec("b")) + rec("w" * 70)
    want = report_of(data)
    assert [(e["line"], e["code"]) for e in want["errors"]] == [
        (2, "line_too_long"),
        (5, "not_object"),
        (6, "line_too_long"),
        (8, "line_too_long"),
    ]
    assert want["stats"]["records"] == 4
    assert want["stats"]["exact_duplicates"]["examples"] == [{"first_line": 1, "duplicate_line": 3}]
    bounds = line_boundaries(data)
    for chunk in (5, 16, 61, 4096):
        assert_same(report_of(data, chunk_bytes=chunk), want)
    for i, first in enumerate(bounds):
        for second in bounds[i + 1 :]:
            assert_same(sharded_report(data, [first, second]), want)
            assert_same(sharded_report(data, [first, second], chunk_bytes=16), want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files(), st.data())
def test_sharding_equals_a_single_pass_on_generated_files(data: bytes, draw: st.DataObject) -> None:
    bounds = line_boundaries(data)
    if not bounds:
        cuts: list[int] = []
    else:
        cuts = sorted(set(draw.draw(st.lists(st.sampled_from(bounds), min_size=1, max_size=2))))
    check_sharding(data, cuts)


@pytest.mark.parametrize("path", PATHS)
def test_a_duplicate_with_escapes_is_found_after_other_escaped_records(path: str) -> None:
    """Each text's hash is read past the escapes of the records before it, so its duplicate is still found."""
    twice = rec("two \\\\ backslashes")  # a run of four in JSON: two escapes
    data = lines(rec("x\ty"), rec('a\nb "q"'), twice, rec("plain"), rec('a\nb "q"'), rec("x\ty"))
    with block_path(path), counting_fast_blocks() as accepted:
        fast = report_of(data)
    assert accepted[0] >= 1
    assert fast["stats"]["exact_duplicates"]["count"] == 2
    assert_same(fast, exact_report(data))


# --- the raw path alone, against json.loads line by line ------------------------------------------


class _Object(list[tuple[str, Any]]):
    """A JSON object's key/value pairs, duplicates included."""


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def reference_text(line: bytes) -> str | None:
    """The text of a line that is a valid record by the plain rules (json.loads), else None."""
    try:
        decoded = line.removesuffix(b"\r").decode("utf-8")
        value = json.loads(decoded, object_pairs_hook=_Object, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, _Object) or [key for key, _ in value] != ["text"] or not isinstance(value[0][1], str):
        return None
    text: str = value[0][1]
    if is_blank(text) or any("\ud800" <= c <= "\udfff" for c in text):
        return None
    return text


def raw_path(data: bytes, *, normalise: bool = True) -> Any:
    """What the raw path says of a block by itself: its records, None, or "leave it to the parsed path"."""
    return block_module._scan_raw(data, np.frombuffer(data, dtype=np.uint8), normalise=normalise)


def assert_raw_path_is_exact(data: bytes, *, takes: bool) -> None:
    """The raw path never accepts a block with a line json.loads finds no valid record, and when it
    accepts a block it gives each text's hash, normalised hash, UTF-8 bytes and characters. When
    `takes`, every line is spelled as the raw path takes it, so a block of valid records is accepted."""
    texts = [reference_text(line) for line in data.removesuffix(b"\n").split(b"\n")]
    got = raw_path(data)
    if got is block_module._PARSE:  # a `\u` or `\/` escape: the parsed path decides
        assert rb"\u" in data or rb"\/" in data
        return
    records = [t for t in texts if isinstance(t, str)]
    if len(records) < len(texts):
        assert got is None, texts
        return
    if takes:
        assert isinstance(got, BlockRecords), "a block of valid records was refused"
    if got is None:
        return
    assert got.hashes.tolist() == [text_hash(t) for t in records]
    assert got.text_bytes.tolist() == [len(t.encode("utf-8")) for t in records]
    assert got.characters.tolist() == [len(t) for t in records]
    assert got.norm_hashes is not None
    assert got.norm_hashes.tolist() == [normalised_hash(t) for t in records]
    plain = raw_path(data, normalise=False)
    assert plain.norm_hashes is None and plain.hashes.tolist() == got.hashes.tolist()


# What the raw path takes itself: text with few short escapes (\n \t \" \\ \b \f \r), some non-ASCII.
# U+3000 (E3 80 80) and À (C3 80) hold the byte 0x80, the lowest non-ASCII byte.
RAW_ASCII = ["a", "b", "Z", " ", "  ", '"', "\\", "\\\\", "\n", "\t", "\r", "\b", "\f", "/", "}", '"}', "{", ":", ","]
RAW_WIDE = ["é", "À", "\u3000", "東京", "😀", "€", "\x7f", "e\u0301", "\u00a0"]
RAW_TEXT = pieces_text(
    [*RAW_ASCII, *RAW_WIDE],
    min_size=1,
    max_size=16,
)
# How a writer spells a record the raw path takes: compact (msgspec, orjson), json.dumps' `": "`, and a
# value far into its line (the quote-count rule judges those).
RAW_SPELLINGS = [b'{"text":%s}', b'{"text": %s}', b'{"text":              %s}']


def raw_line(text: str, how: int) -> bytes:
    return RAW_SPELLINGS[how] % json.dumps(text, ensure_ascii=False).encode("utf-8")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(RAW_TEXT, st.integers(0, 2)), min_size=1, max_size=10),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
)
def test_raw_path_matches_json_loads_on_valid_blocks(items: list[tuple[str, int]], end: bytes, last_end: bool) -> None:
    data = end.join(raw_line(text, how) for text, how in items) + (end if last_end else b"")
    assert_raw_path_is_exact(data, takes=True)


RAW_BAD = [
    b'{"text":"a\x80"}',  # a lone continuation byte, the lowest non-ASCII byte
    b'{"text":"\xc3\x80\x80"}',
    b'{"text":"\xe3\x80"}',  # a cut U+3000
    b'{"text":"a","text":"b"}',
    b'{"text":"a",  "text":"\\"b\\""}',
    b'{"text":"\\"",       "text":"b"}',
    b'{"text":"a"}}',
    b'{"text":"a"}{"text":"b"}',
    b'{"text":" \\n\\t "}',
    b'{"text":"\xe3\x80\x80"}',  # U+3000 alone: blank
    b'{"text":"\xc2\xa0\\n"}',
    b'{"text":""}',
    b'{"text":"\\\\\\"}',
    b"",
    b"{}",
]


@pytest.mark.parametrize("bad", RAW_BAD)
@pytest.mark.parametrize("where", [0, 1, 2])
def test_raw_path_refuses_a_block_with_one_bad_line(bad: bytes, where: int) -> None:
    good = [raw_line("東京 é 😀", 0), raw_line('say "hi"\n', 1), raw_line("C:\\dir\\", 2)]
    data = b"\n".join([*good[:where], bad, *good[where:]]) + b"\n"
    assert reference_text(bad) is None
    assert_raw_path_is_exact(data, takes=False)


def paths_taken(data: bytes) -> list[str]:
    """The block paths scan_block runs on a block of valid records, in order."""
    taken: list[str] = []

    def spy(name: str, real: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            taken.append(name)
            return real(*args, **kwargs)

        return run

    with (
        mock.patch.object(block_module, "_scan_raw", spy("raw", block_module._scan_raw)),
        mock.patch.object(block_module, "scan_parsed", spy("parsed", block_module.scan_parsed)),
    ):
        assert scan_block(data, normalise=True) is not None
    return taken


PROSE = (
    'The committee met on Tuesday. "We will publish the figures in spring," the chair said.\n'
    "Members asked for the raw tables as well, and for the method used to weigh the regional samples; "
    "the secretary agreed to circulate both before the next meeting, together with last year's report."
)


def test_each_kind_of_text_goes_to_the_block_path_that_is_fast_for_it() -> None:
    """English prose stays on the raw path; Japanese prose and source code (dense in non-ASCII bytes or
    backslashes) go to the parsed path without the raw path's work; a `\\u` escape hands a block over."""
    english = lines(*[rec(f"{PROSE} ({i})") for i in range(20)])
    japanese = lines(*[rec(f"東京都の人口は増えています。次の段落では地方の統計を見ます。({i})") for i in range(20)])
    code = lines(*[rec(f'def f{i}(x):\n\tif x:\n\t\treturn "a\\\\b"\n\treturn None\n') for i in range(20)])
    assert paths_taken(english) == ["raw"]
    assert paths_taken(japanese) == ["parsed"]
    assert paths_taken(code) == ["parsed"]
    assert paths_taken(english + rec(f"{PROSE} café", ascii=True) + b"\n") == ["raw", "parsed"]
