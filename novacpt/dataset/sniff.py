"""Recognise a file that is not JSON Lines at all, from its first bytes, and say how to fix it."""

from __future__ import annotations

import csv

GZIP = b"\x1f\x8b"
ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_HEAD_LINES = 5
HEAD_BYTES = 4096  # how much of the file's start `sniff` wants to see


def sniff(head: bytes) -> str | None:
    """What the file is, with the fix, when its start shows it is no JSONL dataset; else None.

    `head` is the start of the file after any byte-order mark: gzip, zip, a JSON array, a
    pretty-printed JSON document and CSV/TSV are recognised; anything else is left to the line rules.
    """
    if head.startswith(GZIP):
        return "the file is gzip-compressed, not JSON Lines: decompress it first (gunzip -k FILE)"
    if head.startswith(ZIP):
        return "the file is a zip archive, not JSON Lines: extract the .jsonl file from it (unzip FILE)"
    lines = head.split(b"\n", _HEAD_LINES)[:_HEAD_LINES]
    first = lines[0].strip()
    following = [line for line in lines[1:] if line.strip()]
    indented = bool(following) and following[0][:1] in (b" ", b"\t")
    # An array that spans lines, or fills the file's one line (a JSONL line "[1]" is left to the rules).
    if first.startswith(b"[") and (not first.endswith(b"]") or (not following and b"{" in first)):
        return "the file is a JSON array, not JSON Lines: write one object a line (jq -c '.[]' FILE.json > FILE.jsonl)"
    if first == b"{" or (first.startswith(b"{") and not first.endswith(b"}") and indented):
        return (
            "the file is pretty-printed JSON, not JSON Lines: every record must be on one line "
            "(jq -c . FILE.json > FILE.jsonl)"
        )
    for separator, name in (("\t", "TSV (tab-separated)"), (",", "CSV (comma-separated)")):
        if _table(lines, separator):
            return (
                f"the file looks like {name}, not JSON Lines: write each row's text as one "
                '{"text": "..."} object a line'
            )
    return None


def _table(lines: list[bytes], separator: str) -> bool:
    """Lines that are no JSON and split into the same number (> 1) of fields by `separator`."""
    rows = [line.decode("utf-8", "replace").rstrip("\r") for line in lines if line.strip()]
    if len(rows) < 2 or any(row.lstrip().startswith(("{", "[")) for row in rows[:2]):
        return False
    try:
        fields = {len(row) for row in csv.reader(rows[:-1], delimiter=separator)}  # the last may be cut short
    except csv.Error:  # a NUL or a lone carriage return: not a table
        return False
    return len(fields) == 1 and fields != {1}
