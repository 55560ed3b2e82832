"""The datasets that train are the ones that were validated: their versions are checked before spending."""

from __future__ import annotations

from typing import Any

from novacpt.kernel.errors import DatasetChanged
from novacpt.kernel.s3access import S3Access


def dataset_changes(s3: S3Access, datasets: list[dict[str, Any]]) -> list[str]:
    """One line per dataset whose current object is not the version (or, unversioned, the ETag) validated."""
    changes = []
    for dataset in datasets:
        current = s3.head(str(dataset["uri"]))
        validated = dataset.get("version_id") or dataset.get("etag")
        now = None if current is None else (current.version_id if dataset.get("version_id") else current.etag)
        if now != validated:
            changes.append(
                f"{dataset.get('role', 'dataset')} {dataset['uri']}: validated version {validated}, "
                f"now {now or 'deleted'}"
            )
    return changes


def require_unchanged(s3: S3Access, datasets: list[dict[str, Any]]) -> None:
    """DatasetChanged when any dataset was replaced (or deleted) after it was validated."""
    changes = dataset_changes(s3, datasets)
    if changes:
        raise DatasetChanged(
            "a dataset was replaced after it was validated, so the run stops before training on unvalidated data: "
            + "; ".join(changes)
            + ". Upload the data again, then the recipe last: the new run validates and trains the new data"
        )
