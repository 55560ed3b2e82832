"""Generated corpora with planted quality problems: near copies, mojibake, a language mix, validation copies."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

# Unrelated records come from a large made-up vocabulary (English) or a large character set (Japanese),
# so two of them share almost no shingle.
_SYLLABLES = "ka ri to me su no ra ve lo pi an de mo ur sa el ti ko ba zu ne fi go he ju ly xo qu".split()
_KANA_KANJI = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x4E00, 0x4E00 + 1500)]

# Real sentences: the language detector reads the first characters of a record.
SENTENCES = {
    "en": "The quarterly report shows that revenue grew faster than analysts expected this year.",
    "ja": "当社の研究チームは前年同期と比べて売上高が大幅に増加したと発表しました。",
    "fr": "Le rapport trimestriel montre que les revenus ont augmenté plus vite que prévu cette année.",
}


def _vocabulary(rng: random.Random, size: int = 20000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def english_text(rng: random.Random, vocabulary: list[str], words: int = 300) -> str:
    """Unrelated English-like prose: random words of a large vocabulary."""
    return SENTENCES["en"] + " " + " ".join(rng.choice(vocabulary) for _ in range(words))


def japanese_text(rng: random.Random, chars: int = 600) -> str:
    """Unrelated Japanese-like text: random kana and kanji, no spaces."""
    return SENTENCES["ja"] + "".join(rng.choice(_KANA_KANJI) for _ in range(chars))


def near_copy_en(rng: random.Random, text: str, vocabulary: list[str]) -> str:
    """The text with one word in a hundred replaced."""
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, len(words) // 100)):
        words[i] = rng.choice(vocabulary)
    return " ".join(words)


def near_copy_ja(rng: random.Random, text: str, changes: int = 4) -> str:
    """The text with a few characters replaced."""
    chars = list(text)
    for i in rng.sample(range(len(chars)), changes):
        chars[i] = rng.choice(_KANA_KANJI)
    return "".join(chars)


def mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252: `café` becomes `cafÃ©`."""
    return text.encode("utf-8").decode("windows-1252", errors="replace")


@dataclass
class Planted:
    """A corpus and what was planted in it (1-based lines)."""

    texts: list[str] = field(default_factory=list)
    copies: dict[int, int] = field(default_factory=dict)  # near copy's line -> its original's line
    mojibake: set[int] = field(default_factory=set)
    languages: dict[int, str] = field(default_factory=dict)

    def add(self, text: str) -> int:
        self.texts.append(text)
        return len(self.texts)

    def write(self, path: Path) -> Path:
        path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in self.texts))
        return path


def planted_corpus(seed: int = 11, originals: int = 300, copies: int = 60) -> Planted:
    """Unrelated English and Japanese records, near copies of some, a few with mojibake, shuffled in."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    corpus = Planted()
    sources: list[tuple[int, str]] = []
    for i in range(originals):
        if i % 3 == 2:
            text, language = japanese_text(rng), "ja"
        else:
            text, language = english_text(rng, vocabulary), "en"
        line = corpus.add(text)
        corpus.languages[line] = language
        sources.append((line, language))
    for line, language in rng.sample(sources, copies):
        text = corpus.texts[line - 1]
        copy = near_copy_ja(rng, text) if language == "ja" else near_copy_en(rng, text, vocabulary)
        new = corpus.add(copy)
        corpus.copies[new] = line
        corpus.languages[new] = language
    for _ in range(8):
        text = "Café “naïve” résumé — " + english_text(rng, vocabulary, 40)
        line = corpus.add(mojibake(text))
        corpus.mojibake.add(line)
        corpus.languages[line] = "en"
    return corpus
