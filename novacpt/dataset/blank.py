"""When a text counts as empty: nothing but whitespace and invisible format characters."""

from __future__ import annotations

import unicodedata


def is_blank(text: str) -> bool:
    """True when every character is whitespace (str.isspace) or a format character (category Cf).

    Cf holds the zero-width space, joiners, the word joiner, the byte-order mark U+FEFF, the soft
    hyphen and bidirectional marks: a text made only of them shows nothing and trains nothing.
    """
    rest = text.strip()
    if not rest:
        return True
    if rest[0].isprintable():  # a printable character that is not whitespace is visible
        return False
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in rest)


def what_blank(text: str) -> str:
    """How a blank text is described in its error."""
    if not text:
        return "empty"
    if not text.strip():
        return "whitespace only"
    return "only whitespace and invisible characters (zero-width, BOM, format characters)"
