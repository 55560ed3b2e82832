"""Streaming validation of Nova CPT JSONL datasets."""

from novacpt.dataset.codes import ErrorCode, WarningCode
from novacpt.dataset.report import DatasetError, DatasetReport, DatasetWarning
from novacpt.dataset.scan import ScanResult, scan_stream
from novacpt.dataset.validate import DatasetOptions, build_report, validate_path, validate_stream

__all__ = [
    "DatasetError",
    "DatasetOptions",
    "DatasetReport",
    "DatasetWarning",
    "ErrorCode",
    "ScanResult",
    "WarningCode",
    "build_report",
    "scan_stream",
    "validate_path",
    "validate_stream",
]
