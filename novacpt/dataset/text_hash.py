"""Hashes that identify a record's text, identical whichever path computed them."""

from __future__ import annotations

import unicodedata
from itertools import repeat

import numpy as np
import numpy.typing as npt
import xxhash

# A record's identity is the xxh3-64 of its text as UTF-8 between two quote characters: the line's
# own bytes when it wrote the text without escapes, so most texts are hashed where they lie. 0 is
# reserved for "no record on this line".
hash_bytes = xxhash.xxh3_64_intdigest
quoted = b'"%s"'.__mod__  # UTF-8 bytes -> the hashed form


def text_hash(text: str) -> int:
    """Hash of a decoded text (never 0); the text holds no lone surrogate (that is an error)."""
    return hash_bytes(quoted(text.encode("utf-8"))) or 1


def utf8_hashes(encoded: list[bytes]) -> npt.NDArray[np.uint64]:
    """`text_hash` of each text given as its UTF-8 (quoted by a join: cheaper than `quoted` a record)."""
    forms = map(b'"'.join, zip(repeat(b""), encoded, repeat(b"")))
    hashes = np.fromiter(map(hash_bytes, forms), dtype=np.uint64, count=len(encoded))
    hashes[hashes == 0] = 1
    return hashes


# Python's whitespace (str.isspace), as UTF-8: ASCII ones map byte to byte, the rest are sequences.
_ASCII_SPACES = bytes.maketrans(b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f", b" " * 9)
_WIDE_SPACES = tuple(
    chr(c) for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
)


_SPACE = 32
_VECTOR_MIN = 2048  # above this many bytes, collapsing spaces with numpy beats repeated replace()


def normalise(text: str) -> str:
    """The text as compared for near-duplicates: Unicode NFC, whitespace runs collapsed, trimmed.

    Equal to `" ".join(unicodedata.normalize("NFC", text).split())`, computed on bytes because
    splitting a long text into words is several times slower.
    """
    text = unicodedata.normalize("NFC", text)
    if not text.isascii():
        for space in _WIDE_SPACES:
            if space in text:
                text = text.replace(space, " ")
    data = text.encode("utf-8").translate(_ASCII_SPACES)
    if len(data) > _VECTOR_MIN:
        spaces = np.frombuffer(data, dtype=np.uint8) == _SPACE
        repeated = np.zeros(spaces.size, dtype=bool)
        np.logical_and(spaces[1:], spaces[:-1], out=repeated[1:])
        if repeated.any():
            data = np.frombuffer(data, dtype=np.uint8)[~repeated].tobytes()
    else:
        while b"  " in data:
            data = data.replace(b"  ", b" ")
    return data.strip(b" ").decode("utf-8")


def normalised_hash(text: str) -> int:
    """Hash of the normalised text (never 0)."""
    return text_hash(normalise(text))


def is_normal(text: str) -> bool:
    """True when `normalise` would return the text unchanged (a cheap, exact test).

    Every whitespace character but the space is non-printable, so a printable text with no double,
    leading or trailing space has nothing to fold; NFC is checked by its quick check.
    """
    return (
        text.isprintable()
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
        and (text.isascii() or unicodedata.is_normalized("NFC", text))
    )


def normalised_hash_if_needed(text: str, exact: int) -> int:
    """The normalised hash of a text whose exact hash is `exact`, normalising only when needed."""
    return exact if is_normal(text) else normalised_hash(text)
