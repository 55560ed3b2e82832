"""Events AWS would deliver to the pipeline, built for the emulator."""

from __future__ import annotations

from typing import Any


def object_created_event(bucket: str, key: str, version_id: str | None, *, account: str, region: str) -> dict[str, Any]:
    """The EventBridge "Object Created" event S3 sends for a new object version."""
    detail_object: dict[str, Any] = {"key": key, "size": 0, "etag": ""}
    if version_id:
        detail_object["version-id"] = version_id
    return {
        "version": "0",
        "id": f"emulated-{bucket}-{key}-{version_id}",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": "2026-01-01T00:00:00Z",
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": detail_object,
            "request-id": "emulated",
            "requester": account,
        },
    }
