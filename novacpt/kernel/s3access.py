"""S3 calls of the pipeline: every call names the expected bucket owner; errors name the path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

from novacpt.kernel.errors import PipelineError, TransientError, aws_failure, error_code, error_message
from novacpt.kernel.s3uri import s3_uri, split_s3_uri


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What identifies one object version: for records and for checks that nothing changed."""

    uri: str
    size: int
    etag: str
    version_id: str | None


class S3Access:
    """The S3 operations the pipeline needs, scoped to one account (ExpectedBucketOwner)."""

    def __init__(self, client: Any, account_id: str) -> None:
        self.client = client
        self.account_id = account_id

    def _call(self, uri: str, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(ExpectedBucketOwner=self.account_id, **kwargs)
        except ClientError as exc:
            raise self.failure(uri, exc) from exc

    def failure(self, uri: str, exc: ClientError) -> PipelineError:
        """An S3 error on `uri` as a pipeline error: TransientError (retried) or PipelineError saying why."""
        return aws_failure(uri, exc, service="S3", explain=lambda code: _explain(code, exc, self.account_id))

    def head(self, uri: str) -> ObjectInfo | None:
        """The object's identity, or None when it does not exist."""
        bucket, key = split_s3_uri(uri)
        try:
            meta = self.client.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=self.account_id)
        except ClientError as exc:
            if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise self.failure(uri, exc) from exc
        return ObjectInfo(uri, int(meta["ContentLength"]), str(meta["ETag"]).strip('"'), meta.get("VersionId"))

    def bucket_region(self, bucket: str) -> str:
        """The region a bucket lives in (its owner must be this account)."""
        answer = self._call(s3_uri(bucket), "get_bucket_location", Bucket=bucket)
        location = answer.get("LocationConstraint") or "us-east-1"  # us-east-1 answers with no constraint
        return "eu-west-1" if location == "EU" else str(location)

    def read(self, uri: str, *, max_bytes: int, version_id: str | None = None) -> bytes:
        """A small object's bytes (at most max_bytes + 1 are read, so the caller can tell it is too big);
        that version's when `version_id` is given, else the latest."""
        return self.read_range(uri, 0, max_bytes + 1, version_id=version_id)

    def read_range(self, uri: str, start: int, stop: int, *, version_id: str | None = None) -> bytes:
        """Bytes [start, stop) of an object, or of one version of it (b"" for an empty range)."""
        if stop <= start:
            return b""
        bucket, key = split_s3_uri(uri)
        extra = {"VersionId": version_id} if version_id else {}
        answer = self._call(uri, "get_object", Bucket=bucket, Key=key, Range=f"bytes={start}-{stop - 1}", **extra)
        return cast(bytes, answer["Body"].read())

    def open(self, uri: str, version_id: str | None = None) -> tuple[BinaryIO, ObjectInfo]:
        """A streaming body of one object version, with its identity."""
        bucket, key = split_s3_uri(uri)
        extra = {"VersionId": version_id} if version_id else {}
        answer = self._call(uri, "get_object", Bucket=bucket, Key=key, **extra)
        info = ObjectInfo(uri, int(answer["ContentLength"]), str(answer["ETag"]).strip('"'), answer.get("VersionId"))
        return cast(BinaryIO, answer["Body"]), info

    def put(self, uri: str, data: bytes, content_type: str = "application/json") -> ObjectInfo:
        """Write an object (SSE-KMS comes from the bucket's default encryption)."""
        bucket, key = split_s3_uri(uri)
        answer = self._call(uri, "put_object", Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        return ObjectInfo(uri, len(data), str(answer.get("ETag", "")).strip('"'), answer.get("VersionId"))

    def put_json(self, uri: str, value: Any) -> ObjectInfo:
        """Write a JSON document."""
        return self.put(uri, json.dumps(value, indent=2, sort_keys=True, default=str).encode())

    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        """Every object under a prefix, across all pages."""
        bucket, prefix = split_s3_uri(prefix_uri)
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, ExpectedBucketOwner=self.account_id):
                for item in page.get("Contents", []):
                    yield ObjectInfo(s3_uri(bucket, item["Key"]), int(item["Size"]), item["ETag"].strip('"'), None)
        except ClientError as exc:
            raise self.failure(prefix_uri, exc) from exc

    def copy_verified(self, source: ObjectInfo, target_uri: str) -> ObjectInfo:
        """Copy one object and check the copy's size and SHA-256 against the source; never touch the source."""
        src_bucket, src_key = split_s3_uri(source.uri)
        dst_bucket, dst_key = split_s3_uri(target_uri)
        self._call(
            target_uri,
            "copy_object",
            Bucket=dst_bucket,
            Key=dst_key,
            CopySource={"Bucket": src_bucket, "Key": src_key},
            ExpectedSourceBucketOwner=self.account_id,
        )
        copied = self.head(target_uri)
        if copied is None or copied.size != source.size or self._sha256(target_uri) != self._sha256(source.uri):
            raise TransientError(f"{target_uri}: the copy of {source.uri} does not match its source, retrying")
        return copied

    def _sha256(self, uri: str) -> str:
        body, _ = self.open(uri)
        digest = hashlib.sha256()
        while chunk := body.read(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()


def _explain(code: str, exc: ClientError, account_id: str) -> str:
    if code in {"AccessDenied", "403", "Forbidden"}:
        return f"access denied: the bucket must belong to account {account_id} and be one the pipeline may use"
    if code == "NoSuchBucket":
        return "no such bucket"
    if code in {"NoSuchKey", "404"}:
        return "no such object"
    return f"S3 error {code}: {error_message(exc)}".strip()
