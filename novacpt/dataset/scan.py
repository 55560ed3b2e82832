"""Streaming scan of a JSONL byte stream into a mergeable partial result."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from novacpt.dataset.block import scan_block
from novacpt.dataset.codes import ErrorCode
from novacpt.dataset.lengths import TokenHistogram, estimate_tokens
from novacpt.dataset.line_check import LineError, check_line
from novacpt.dataset.records import BlockRecords
from novacpt.dataset.report import MAX_KEPT_ERRORS, DatasetError
from novacpt.dataset.sniff import HEAD_BYTES, sniff
from novacpt.dataset.text_hash import normalised_hash, text_hash

BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 4 << 20
BLOCK_BYTES = 1 << 20  # what scan_block checks at once (measured: 128 KiB to 4 MiB cost about the same)
SUB_BLOCK_BYTES = 32 << 10  # a block that fails is retried in such parts before going line by line
MAX_LINE_BYTES = 16 << 20


class Readable(Protocol):
    """Anything with a binary read(): a file, an S3 body, a shard of either."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes; b"" at the end."""


@dataclass(slots=True)
class ScanResult:
    """What one pass over a stream (a whole file or one shard of it) found; line numbers are local."""

    lines: int = 0
    records: int = 0
    bytes: int = 0
    characters: int = 0
    text_bytes: int = 0
    errors: list[DatasetError] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)
    hashes: list[npt.NDArray[np.uint64]] = field(default_factory=list)
    norm_hashes: list[npt.NDArray[np.uint64]] | None = None
    lengths: TokenHistogram = field(default_factory=TokenHistogram)

    def error(self, line: int | None, code: ErrorCode, message: str) -> None:
        """Count an error and keep it while fewer than MAX_KEPT_ERRORS are kept."""
        self.error_counts[str(code)] = self.error_counts.get(str(code), 0) + 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(DatasetError(line, code, message))


def scan_stream(
    stream: Readable, *, normalised: bool = False, file_start: bool = True, chunk_bytes: int = CHUNK_BYTES
) -> ScanResult:
    """Read `stream` to its end in chunks and check every line; memory stays flat but for 8-16 B a line."""
    result = ScanResult(norm_hashes=[] if normalised else None)
    scanner = _Scanner(result, normalised)
    for buffer, start, stop in _blocks(stream, result, chunk_bytes, file_start):
        scanner.block(buffer, start, stop)
    return result


def _blocks(
    stream: Readable, result: ScanResult, chunk_bytes: int, file_start: bool
) -> Iterator[tuple[bytes, int, int]]:
    """Yield runs of whole lines as (buffer, start, stop); only the file's last line may lack its newline."""
    carry = b""
    skipping = False  # inside a line longer than MAX_LINE_BYTES
    first = file_start
    while chunk := stream.read(min(chunk_bytes, MAX_LINE_BYTES)):  # a long line always ends in `carry`
        result.bytes += len(chunk)
        if first:
            first = False
            head = min(HEAD_BYTES, MAX_LINE_BYTES)
            while len(chunk) < head and (more := stream.read(head - len(chunk))):
                result.bytes += len(more)  # a short first read: see the file's start before judging it
                chunk += more
            if chunk.startswith(BOM):
                result.error(1, ErrorCode.BOM, "byte-order mark at the start of the file: save as UTF-8 without BOM")
                chunk = chunk[len(BOM) :]
            if (what := sniff(chunk[:HEAD_BYTES])) is not None:
                result.error(None, ErrorCode.NOT_JSONL, what)
                while more := stream.read(chunk_bytes):
                    result.bytes += len(more)
                return
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            skipping = False
            result.lines += 1
            _no_record(result, 1)
            chunk = chunk[cut + 1 :]
        last = chunk.rfind(b"\n")
        if last < 0:
            carry += chunk
            if len(carry) > MAX_LINE_BYTES:
                result.error(result.lines + 1, ErrorCode.LINE_TOO_LONG, _too_long())
                carry, skipping = b"", True
            continue
        head = chunk.find(b"\n")
        if carry:
            if len(carry) + head > MAX_LINE_BYTES:  # the line ends in this chunk but is too long
                result.error(result.lines + 1, ErrorCode.LINE_TOO_LONG, _too_long())
                result.lines += 1
                _no_record(result, 1)
            else:
                joined = carry + chunk[: head + 1]
                yield joined, 0, len(joined)
            carry = b""
            if head != last:
                yield chunk, head + 1, last + 1
        else:
            yield chunk, 0, last + 1
        carry = chunk[last + 1 :]
    if skipping:
        result.lines += 1
        _no_record(result, 1)
    elif carry:
        yield carry, 0, len(carry)


def _too_long() -> str:
    return f"line longer than {MAX_LINE_BYTES >> 20} MiB: records must be one line each"


def _no_record(result: ScanResult, count: int) -> None:
    empty = np.zeros(count, dtype=np.uint64)
    result.hashes.append(empty)
    if result.norm_hashes is not None:
        result.norm_hashes.append(empty)


class _Scanner:
    def __init__(self, result: ScanResult, normalised: bool) -> None:
        self.result = result
        self.normalised = normalised

    def block(self, buffer: bytes, start: int, stop: int) -> None:
        """Check the whole lines buffer[start:stop]: blocks at once, then smaller parts, then line by line."""
        view = memoryview(buffer)
        for first, last in _split(buffer, start, stop, BLOCK_BYTES):
            fast = scan_block(view[first:last], normalise=self.normalised)
            if fast is not None:
                self._add_fast(fast)
                continue
            retry = last - first > SUB_BLOCK_BYTES  # else the part is the block that failed
            for part_first, part_last in _split(buffer, first, last, SUB_BLOCK_BYTES):
                sub = scan_block(view[part_first:part_last], normalise=self.normalised) if retry else None
                if sub is not None:
                    self._add_fast(sub)
                else:
                    self._per_line(buffer[part_first:part_last])

    def _add_fast(self, fast: BlockRecords) -> None:
        r = self.result
        n = fast.hashes.size
        r.lines += n
        r.records += n
        r.characters += int(fast.characters.sum())
        r.text_bytes += int(fast.text_bytes.sum())
        r.hashes.append(fast.hashes)
        if r.norm_hashes is not None and fast.norm_hashes is not None:
            r.norm_hashes.append(fast.norm_hashes)
        r.lengths.add(estimate_tokens(fast.text_bytes, fast.characters))

    def _per_line(self, data: bytes) -> None:
        r = self.result
        lines = split_lines(data) or [b""]
        hashes = np.zeros(len(lines), dtype=np.uint64)
        norm = np.zeros(len(lines), dtype=np.uint64) if r.norm_hashes is not None else None
        text_bytes: list[int] = []
        characters: list[int] = []
        for i, raw in enumerate(lines):
            outcome = check_line(raw)
            if isinstance(outcome, LineError):
                r.error(r.lines + i + 1, outcome.code, outcome.message)
                continue
            text_bytes.append(len(outcome.encode("utf-8")))
            characters.append(len(outcome))
            hashes[i] = text_hash(outcome)
            if norm is not None:
                norm[i] = normalised_hash(outcome)
        r.lines += len(lines)
        r.records += len(text_bytes)
        sizes = np.array(text_bytes, dtype=np.int64)
        chars = np.array(characters, dtype=np.int64)
        r.text_bytes += int(sizes.sum())
        r.characters += int(chars.sum())
        r.lengths.add(estimate_tokens(sizes, chars))
        r.hashes.append(hashes)
        if r.norm_hashes is not None and norm is not None:
            r.norm_hashes.append(norm)


def _split(buffer: bytes, start: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    """Cut buffer[start:stop] into runs of whole lines of about `size` bytes (a longer line is one run)."""
    while start < stop:
        cut = buffer.find(b"\n", start + size - 1, stop)
        end = stop if cut < 0 else cut + 1
        yield start, end
        start = end


def split_lines(data: bytes) -> list[bytes]:
    """The lines of a block (without their `\\n`; a last line without one is kept)."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines
