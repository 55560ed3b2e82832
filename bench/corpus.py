"""Deterministic JSONL corpora for the benchmarks: the six shapes a team's data really has.

Every record is unique (a numbered prefix). The shapes:
- `en_long`: English prose (~0.5% non-ASCII words), a paragraph break in every record, ~8 KB lines;
- `ja_long_escaped`: Japanese prose written by `json.dumps` defaults (`\\uXXXX` everywhere), ~8 KB;
- `ja_long_raw`: the same Japanese prose as raw UTF-8, ~8 KB;
- `code_long`: source code and markup (quotes, backslashes, tabs, newlines on every line), ~8 KB;
- `en_short`: English sentences, ~200 B lines;
- `ja_short_escaped`: Japanese sentences, `\\uXXXX` escapes, ~200 B lines.
The Japanese text is built from real Japanese phrases, so its bytes are what a Japanese corpus holds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_WORDS = (
    "the of and to in is was for on that with as by at from model data training amazon nova cloud compute learning "
    "continued domain finance pharma clinical regulatory trial dosage revenue quarterly earnings risk portfolio "
    "compliance patient study results analysis market growth"
).split()
_RARE = ["café", "naïve", "résumé", "—", "“quoted”", "données", "über"]

# Subjects, objects and predicates of plain Japanese business and science prose.
_JA_SUBJECTS = [
    "当社の研究チームは",
    "臨床試験の結果は",
    "金融市場の参加者は",
    "新しい機械学習モデルは",
    "四半期の売上高は",
    "製薬会社の担当者は",
    "クラウドサービスの利用者は",
    "規制当局は",
    "東京証券取引所の株価は",
    "大規模言語モデルの性能は",
    "患者の安全性データは",
    "データ分析の専門家は",
]
_JA_OBJECTS = [
    "前年同期と比べて",
    "継続的な事前学習によって",
    "国内外の市場動向を踏まえて",
    "投与量と副作用の関係について",
    "リスク管理の観点から",
    "長期的な成長戦略に基づき",
    "ドメイン固有のデータを用いて",
    "第三者機関の評価を受けて",
    "過去十年間の記録をもとに",
    "（速報値）として",  # noqa: RUF001 (real Japanese punctuation)
    "品質保証の手順に従って",
]
_JA_PREDICATES = [
    "大幅に増加しました。",
    "慎重に検討する必要があります。",
    "新たな指針を発表しました。",
    "安定した結果を示しています。",
    "予想を上回る成果を上げました。",
    "今後も注視していく方針です。",
    "有意な改善が確認されました。",
    "追加の調査が行われる予定です。",
    "高い精度を達成しました。",
    "重要な課題として認識されています。",
]

# Source code and markup: every snippet holds quotes, backslashes, tabs and newlines.
_CODE = [
    'def load(path):\n\twith open(path, "r", encoding="utf-8") as f:\n\t\treturn [l.rstrip("\\n") for l in f]\n',
    'const re = /^\\d{4}-\\d{2}-\\d{2}$/;\nif (!re.test(s)) {\n\tthrow new Error("bad date: \\"" + s + "\\"");\n}\n',
    '<div class="note" data-id="{id}">\n\t<p>Path: C:\\Users\\nova\\data.jsonl</p>\n</div>\n',
    'printf("%s\\t%d\\n", name, count);\n\tfputs("\\\\", stderr);\n',
    'SELECT "id", "text" FROM "records"\n\tWHERE "text" LIKE \'%\\_%\' ESCAPE \'\\\\\';\n',
    'echo "line one\\nline two" | sed -e \'s/\\\\/\\//g\'\n\tgrep -E "^[a-z]+\\.json$" list.txt\n',
    '{\n\t"key": "value with \\"quotes\\"",\n\t"path": "a\\\\b"\n}\n',
]


def _paragraph(rng: random.Random, words: int) -> str:
    chosen = (rng.choice(_RARE) if rng.random() < 0.005 else rng.choice(_WORDS) for _ in range(words))
    return " ".join(chosen).capitalize() + "."


def _ja_sentence(rng: random.Random) -> str:
    return rng.choice(_JA_SUBJECTS) + rng.choice(_JA_OBJECTS) + rng.choice(_JA_PREDICATES)


@dataclass(frozen=True)
class Shape:
    """One corpus shape: its text maker, its target line length and how records are written."""

    name: str
    line_bytes: int
    text: Callable[[random.Random, int, int], str]  # (rng, record number, target characters)
    ensure_ascii: bool
    long: bool


def _en_text(rng: random.Random, number: int, chars: int, *, breaks: bool) -> str:
    parts = [f"Record {number}:"]
    size = len(parts[0])
    while size < chars:
        parts.append(_paragraph(rng, rng.randint(8, 40)))
        size += len(parts[-1]) + 1
    if breaks:
        parts.insert(max(1, len(parts) // 2), "\n\n")
    return " ".join(parts)


def _ja_text(rng: random.Random, number: int, chars: int) -> str:
    parts = [f"第{number}号："]  # noqa: RUF001
    size = len(parts[0])
    while size < chars:
        parts.append(_ja_sentence(rng))
        size += len(parts[-1])
        if rng.random() < 0.1:
            parts.append("\n")
    return "".join(parts)


def _code_text(rng: random.Random, number: int, chars: int) -> str:
    parts = [f"// file {number}\n"]
    size = len(parts[0])
    while size < chars:
        snippet = rng.choice(_CODE).replace("{id}", str(rng.randint(0, 99999)))
        parts.append(snippet)
        size += len(snippet)
    return "".join(parts)


SHAPES = {
    shape.name: shape
    for shape in (
        Shape("en_long", 8000, lambda r, n, c: _en_text(r, n, c, breaks=True), ensure_ascii=False, long=True),
        Shape("ja_long_escaped", 8000, _ja_text, ensure_ascii=True, long=True),
        Shape("ja_long_raw", 8000, _ja_text, ensure_ascii=False, long=True),
        Shape("code_long", 8000, _code_text, ensure_ascii=True, long=True),
        Shape("en_short", 200, lambda r, n, c: _en_text(r, n, c, breaks=False), ensure_ascii=False, long=False),
        Shape("ja_short_escaped", 200, _ja_text, ensure_ascii=True, long=False),
    )
}


def _chars_for(shape: Shape) -> int:
    """Characters a text needs for a line of about `line_bytes` (escaped Japanese: 6 bytes a character).

    Texts end at the first sentence past this length: short lines aim lower to average ~200 bytes.
    """
    chars = shape.line_bytes if shape.long else shape.line_bytes // 2
    if shape.name.startswith("ja_"):
        return chars // (6 if shape.ensure_ascii else 3)
    return chars


def write_shape(path: Path, shape: Shape, *, total_bytes: int, seed: int = 7) -> int:
    """Write records of `shape` until the file reaches `total_bytes`; return the number of records."""
    rng = random.Random(seed)
    chars = _chars_for(shape)
    written = records = 0
    with open(path, "wb") as out:
        batch: list[bytes] = []
        while written < total_bytes:
            text = shape.text(rng, records, chars)
            line = (json.dumps({"text": text}, ensure_ascii=shape.ensure_ascii) + "\n").encode("utf-8")
            batch.append(line)
            written += len(line)
            records += 1
            if len(batch) >= 4096:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))
    return records
