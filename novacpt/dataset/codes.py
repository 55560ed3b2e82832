"""Stable error and warning codes of the dataset validator (other tools match on them)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """One code per dataset rule; the values never change once released."""

    BAD_EXTENSION = "bad_extension"
    NOT_JSONL = "not_jsonl"
    EMPTY_FILE = "empty_file"
    BOM = "bom"
    INVALID_UTF8 = "invalid_utf8"
    EMPTY_LINE = "empty_line"
    LINE_TOO_LONG = "line_too_long"
    INVALID_JSON = "invalid_json"
    NOT_OBJECT = "not_object"
    DUPLICATE_KEY = "duplicate_key"
    UNEXPECTED_KEY = "unexpected_key"
    MISSING_TEXT = "missing_text"
    TEXT_NOT_STRING = "text_not_string"
    EMPTY_TEXT = "empty_text"
    LONE_SURROGATE = "lone_surrogate"
    READ_ERROR = "read_error"


class WarningCode(StrEnum):
    """Findings that do not block a run but deserve a look."""

    DUPLICATE_RATE = "duplicate_rate"
    RECORDS_TOO_LONG = "records_too_long"
    FEW_RECORDS = "few_records"
    NEAR_DUPLICATE_RATE = "near_duplicate_rate"
    VALIDATION_OVERLAP = "validation_overlap"
    MOJIBAKE = "mojibake"
    LANGUAGE_SHARE = "language_share"
