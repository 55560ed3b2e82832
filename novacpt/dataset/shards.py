"""Byte-range shards of one dataset file, each validated alone and merged into the single-pass report.

A shard [start, end) owns exactly the lines whose first byte lies in it: it skips the tail of a
line begun before `start` and finishes the line it is in at `end`. So every line is scanned by one
shard, and shards concatenated in order give the file's lines in order.
"""

from __future__ import annotations

from novacpt.dataset.scan import Readable

_NEWLINE = b"\n"


def shard_bounds(size: int, shard_bytes: int) -> list[tuple[int, int]]:
    """Nominal [start, end) ranges covering `size` bytes (one empty shard for an empty file)."""
    if shard_bytes < 1:
        raise ValueError("shard_bytes must be at least 1")
    if size == 0:
        return [(0, 0)]
    return [(start, min(start + shard_bytes, size)) for start in range(0, size, shard_bytes)]


def read_from(start: int) -> int:
    """Where a shard's reader must begin: one byte early, to see whether a line starts at `start`."""
    return max(start - 1, 0)


class ShardStream:
    """The lines owned by shard [start, end), read from `source`, which is positioned at read_from(start)."""

    def __init__(self, source: Readable, start: int, end: int) -> None:
        self._source = source
        self._pos = read_from(start)  # absolute offset of the next byte `source` returns
        self._end = end
        self._skipping = start > 0  # dropping the line that began before this shard
        self._last = b"\n" if start == 0 else b""  # last byte handed out (or a newline before the file)
        self._done = start >= end and start > 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the shard's lines (b"" at its end)."""
        while not self._done:
            chunk = self._source.read(size if size > 0 else 1 << 20)
            if not chunk:
                self._done = True
                return b""
            offset = self._pos
            self._pos += len(chunk)
            if self._skipping:
                cut = chunk.find(_NEWLINE)
                if cut < 0:
                    continue
                self._skipping = False
                offset += cut + 1
                chunk = chunk[cut + 1 :]
                if offset >= self._end:  # the next line starts in a later shard
                    self._done = True
                    return b""
            out = self._take(chunk, offset)
            if out:
                self._last = out[-1:]
                return out
        return b""

    def _take(self, chunk: bytes, offset: int) -> bytes:
        """The part of `chunk` (at absolute `offset`) that belongs to this shard."""
        if offset + len(chunk) <= self._end:
            return chunk
        inside = max(self._end - offset, 0)
        head, tail = chunk[:inside], chunk[inside:]
        # At `end`: stop at once if a line ended just before it, else finish the current line.
        ended = (head[-1:] or self._last) == _NEWLINE
        if ended:
            self._done = True
            return head
        cut = tail.find(_NEWLINE)
        if cut >= 0:
            self._done = True
            return head + tail[: cut + 1]
        return chunk
