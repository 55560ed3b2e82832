"""The dataset validation report and its JSON shape (other tools parse it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from novacpt.dataset.codes import ErrorCode, WarningCode

MAX_KEPT_ERRORS = 100


@dataclass(frozen=True, slots=True)
class DatasetError:
    """One broken rule: 1-based line (None for the whole file), stable code, message."""

    line: int | None
    code: ErrorCode
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form: {"line", "code", "message"}."""
        return {"line": self.line, "code": str(self.code), "message": self.message}


@dataclass(frozen=True, slots=True)
class DatasetWarning:
    """A finding that does not make the dataset invalid."""

    code: WarningCode
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form: {"code", "message"}."""
        return {"code": str(self.code), "message": self.message}


@dataclass(slots=True)
class DatasetReport:
    """Everything the validator found: the first errors, all counts, warnings and statistics."""

    name: str
    errors: list[DatasetError] = field(default_factory=list)
    error_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[DatasetWarning] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None  # the corpus-quality figures, when asked for (novacpt.dataset.quality)

    @property
    def valid(self) -> bool:
        """True when no rule is broken anywhere in the file."""
        return not self.error_counts

    def to_json_dict(self) -> dict[str, Any]:
        """The `cpt validate-dataset --json` object."""
        found = {
            "valid": self.valid,
            "errors": [e.to_dict() for e in self.errors],
            "error_counts": dict(self.error_counts),
            "warnings": [w.to_dict() for w in self.warnings],
            "stats": self.stats,
        }
        if self.quality is not None:
            found["quality"] = self.quality
        return found

    def add_error(self, error: DatasetError) -> None:
        """Count an error; keep it when fewer than MAX_KEPT_ERRORS are kept."""
        self.error_counts[str(error.code)] = self.error_counts.get(str(error.code), 0) + 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)
