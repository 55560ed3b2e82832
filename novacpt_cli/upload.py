"""Multipart uploads that resume where they stopped: parts already in S3 are not sent again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from novacpt.kernel.cache import cache_home

PART_BYTES = 64 << 20  # S3 allows at most 10,000 parts: 64 MiB parts cover files up to 625 GiB
SMALL_BYTES = 16 << 20  # below this, one PutObject


def state_dir() -> Path:
    """Where unfinished uploads are remembered ($XDG_CACHE_HOME/cpt/uploads)."""
    return cache_home() / "uploads"


def _state_file(path: Path, bucket: str, key: str) -> Path:
    stat = path.stat()
    identity = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{bucket}|{key}"
    return state_dir() / (hashlib.sha256(identity.encode()).hexdigest()[:32] + ".json")


def upload_file(
    s3: Any,
    path: Path,
    bucket: str,
    key: str,
    *,
    part_bytes: int = PART_BYTES,
    progress: Callable[[int], None] = lambda _: None,
) -> dict[str, Any]:
    """Upload `path` to s3://bucket/key; an interrupted multipart upload of the same file resumes.

    `progress(n)` is called with the bytes done so far (parts found in S3 count at once). Returns the
    PutObject / CompleteMultipartUpload answer (with VersionId on a versioned bucket).
    """
    size = path.stat().st_size
    if size < SMALL_BYTES:
        with open(path, "rb") as stream:
            answer: dict[str, Any] = s3.put_object(Bucket=bucket, Key=key, Body=stream)
        progress(size)
        return answer
    state_file = _state_file(path, bucket, key)
    upload_id, done = _resume(s3, state_file, bucket, key)
    if upload_id is None:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps({"upload_id": upload_id}))
    sent = sum(min(part_bytes, size - (n - 1) * part_bytes) for n in done)
    progress(sent)
    with open(path, "rb") as stream:
        for number in range(1, -(-size // part_bytes) + 1):
            if number in done:
                continue
            stream.seek((number - 1) * part_bytes)
            body = stream.read(part_bytes)
            answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
            done[number] = answer["ETag"]
            sent += len(body)
            progress(sent)
    parts = [{"PartNumber": n, "ETag": done[n]} for n in sorted(done)]
    answer = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    state_file.unlink(missing_ok=True)
    return answer


def _resume(s3: Any, state_file: Path, bucket: str, key: str) -> tuple[str | None, dict[int, str]]:
    """The unfinished upload of this very file, with the parts S3 already has, if any."""
    if not state_file.exists():
        return None, {}
    upload_id = json.loads(state_file.read_text())["upload_id"]
    try:
        done: dict[int, str] = {}
        for page in s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=upload_id):
            done.update({p["PartNumber"]: p["ETag"] for p in page.get("Parts", [])})
    except s3.exceptions.NoSuchUpload:
        state_file.unlink(missing_ok=True)
        return None, {}
    return upload_id, done
