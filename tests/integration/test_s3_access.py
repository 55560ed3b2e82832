"""S3Access and RangedReader: the exact requests S3 receives (botocore's Stubber) and what the caller gets back.

Every request names the expected bucket owner (a bucket of another account is never read or written),
reads of a pinned version name it, and ranges are exact: the tests would fail on a request that S3
would answer differently.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from novacpt.kernel.errors import PipelineError, TransientError
from novacpt.kernel.ranged_reader import RangedReader
from novacpt.kernel.s3access import ObjectInfo, S3Access

ACCOUNT = "123456789012"
URI = "s3://data-bkt/jobs/a/train.jsonl"


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.fixture
def s3() -> Iterator[tuple[S3Access, Stubber]]:
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield S3Access(client, ACCOUNT), stubber
        stubber.assert_no_pending_responses()


def test_head_names_the_owner_and_returns_the_version_identity(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_response(
        "head_object",
        {"ContentLength": 42, "ETag": '"abc"', "VersionId": "v7"},
        {"Bucket": "data-bkt", "Key": "jobs/a/train.jsonl", "ExpectedBucketOwner": ACCOUNT},
    )
    assert access.head(URI) == ObjectInfo(URI, 42, "abc", "v7")


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound"])
def test_head_of_a_missing_object_is_none(s3: tuple[S3Access, Stubber], code: str) -> None:
    access, stub = s3
    stub.add_client_error("head_object", code, "Not Found", http_status_code=404)
    assert access.head(URI) is None


def test_head_of_a_bucket_of_another_account_is_refused_naming_the_account(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_client_error("head_object", "403", "Forbidden", http_status_code=403)
    with pytest.raises(PipelineError, match=f"{URI}.*access denied: the bucket must belong to account {ACCOUNT}"):
        access.head(URI)


def test_a_range_read_asks_for_exactly_those_bytes(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    expected = {
        "Bucket": "data-bkt",
        "Key": "jobs/a/train.jsonl",
        "Range": "bytes=10-19",
        "VersionId": "v1",
        "ExpectedBucketOwner": ACCOUNT,
    }
    stub.add_response("get_object", {"Body": body(b"0123456789")}, expected)
    assert access.read_range(URI, 10, 20, version_id="v1") == b"0123456789"
    assert access.read_range(URI, 5, 5, version_id="v1") == b""  # an empty range asks S3 nothing


def test_a_small_read_asks_for_one_byte_more_than_allowed(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    expected = {
        "Bucket": "data-bkt",
        "Key": "jobs/a/train.jsonl",
        "Range": "bytes=0-100",
        "VersionId": "v1",
        "ExpectedBucketOwner": ACCOUNT,
    }
    stub.add_response("get_object", {"Body": body(b"x" * 101)}, expected)
    assert len(access.read(URI, max_bytes=100, version_id="v1")) == 101  # so the caller can tell it is too big


def test_open_pins_the_version_and_names_the_owner(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_response(
        "get_object",
        {"Body": body(b"data"), "ContentLength": 4, "ETag": '"e1"', "VersionId": "v3"},
        {"Bucket": "data-bkt", "Key": "jobs/a/train.jsonl", "VersionId": "v3", "ExpectedBucketOwner": ACCOUNT},
    )
    stream, info = access.open(URI, "v3")
    assert stream.read() == b"data" and info == ObjectInfo(URI, 4, "e1", "v3")


def test_put_names_the_owner_and_the_content_type(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_response(
        "put_object",
        {"ETag": '"e2"', "VersionId": "v1"},
        {
            "Bucket": "arch",
            "Key": "runs/r/run.json",
            "Body": b'{\n  "a": 1\n}',
            "ContentType": "application/json",
            "ExpectedBucketOwner": ACCOUNT,
        },
    )
    assert access.put_json("s3://arch/runs/r/run.json", {"a": 1}) == ObjectInfo(
        "s3://arch/runs/r/run.json", 12, "e2", "v1"
    )


def test_bucket_region(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    for answer, region in [
        ({}, "us-east-1"),
        ({"LocationConstraint": "EU"}, "eu-west-1"),
        ({"LocationConstraint": "ap-south-1"}, "ap-south-1"),
    ]:
        stub.add_response("get_bucket_location", answer, {"Bucket": "b", "ExpectedBucketOwner": ACCOUNT})
        assert access.bucket_region("b") == region


def test_a_copy_names_the_owner_of_both_buckets_and_is_verified(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    source = ObjectInfo("s3://out/job/model.tar", 3, "e", None)
    stub.add_response(
        "copy_object",
        {},
        {
            "Bucket": "arch",
            "Key": "runs/r/model.tar",
            "CopySource": {"Bucket": "out", "Key": "job/model.tar"},
            "ExpectedBucketOwner": ACCOUNT,
            "ExpectedSourceBucketOwner": ACCOUNT,
        },
    )
    stub.add_response(
        "head_object",
        {"ContentLength": 3, "ETag": '"c"'},
        {"Bucket": "arch", "Key": "runs/r/model.tar", "ExpectedBucketOwner": ACCOUNT},
    )
    for bucket, key in [("arch", "runs/r/model.tar"), ("out", "job/model.tar")]:
        stub.add_response(
            "get_object",
            {"Body": body(b"abc"), "ContentLength": 3, "ETag": '"c"'},
            {"Bucket": bucket, "Key": key, "ExpectedBucketOwner": ACCOUNT},
        )
    assert access.copy_verified(source, "s3://arch/runs/r/model.tar") == ObjectInfo(
        "s3://arch/runs/r/model.tar", 3, "c", None
    )


def test_a_copy_that_differs_from_its_source_is_retried(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    source = ObjectInfo("s3://out/job/model.tar", 3, "e", None)
    stub.add_response("copy_object", {})
    stub.add_response("head_object", {"ContentLength": 3, "ETag": '"c"'})
    stub.add_response("get_object", {"Body": body(b"abd"), "ContentLength": 3, "ETag": '"c"'})
    stub.add_response("get_object", {"Body": body(b"abc"), "ContentLength": 3, "ETag": '"c"'})
    with pytest.raises(TransientError, match="does not match its source"):
        access.copy_verified(source, "s3://arch/runs/r/model.tar")


class _Recorder:
    """A client whose get_object serves a byte string by range and records each request."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.requests: list[dict[str, Any]] = []

    def get_object(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        first, last = (int(x) for x in request["Range"].removeprefix("bytes=").split("-"))
        return {"Body": io.BytesIO(self.data[first : last + 1])}


def test_the_ranged_reader_streams_exactly_its_range_of_the_pinned_version() -> None:
    data = bytes(range(256)) * 4
    client = _Recorder(data)
    with RangedReader(
        client, "b", "k", start=100, stop=900, version_id="v2", expected_owner=ACCOUNT, part_bytes=64, workers=3
    ) as reader:
        chunks = []
        while chunk := reader.read(50):
            chunks.append(chunk)
    assert b"".join(chunks) == data[100:900]
    assert all(len(c) <= 50 for c in chunks)
    ranges = sorted(int(r["Range"].removeprefix("bytes=").split("-")[0]) for r in client.requests)
    assert ranges == list(range(100, 900, 64))  # each part fetched once
    for request in client.requests:
        assert request["Bucket"] == "b" and request["Key"] == "k"
        assert request["VersionId"] == "v2" and request["ExpectedBucketOwner"] == ACCOUNT
        first, last = (int(x) for x in request["Range"].removeprefix("bytes=").split("-"))
        assert last - first + 1 <= 64 and last < 900


def test_the_ranged_reader_reads_everything_at_once_and_then_nothing() -> None:
    data = b"abcdefghij" * 10
    client = _Recorder(data)
    reader = RangedReader(client, "b", "k", start=0, stop=len(data), part_bytes=40, workers=2)
    assert reader.read(0) == b""  # as a file does: nothing asked, nothing given
    assert reader.read() == data[:40]  # one part at a time
    assert reader.read(-1) == data[40:80]
    assert reader.read() == data[80:]
    assert reader.read() == b""
    reader.close()
    assert all("VersionId" not in r and "ExpectedBucketOwner" not in r for r in client.requests)


def test_an_empty_range_reads_nothing_and_asks_s3_nothing() -> None:
    client = _Recorder(b"abc")
    with RangedReader(client, "b", "k", start=2, stop=2) as reader:
        assert reader.read() == b""
    assert client.requests == []


@pytest.mark.parametrize("code", ["AccessDenied", "403", "Forbidden"])
def test_a_refused_read_says_the_bucket_must_be_this_accounts(s3: tuple[S3Access, Stubber], code: str) -> None:
    access, stub = s3
    stub.add_client_error("get_object", code, "denied", http_status_code=403)
    with pytest.raises(PipelineError) as raised:
        access.read(URI, max_bytes=10, version_id="v1")
    assert str(raised.value) == (
        f"{URI}: access denied: the bucket must belong to account {ACCOUNT} and be one the pipeline may use"
    )


@pytest.mark.parametrize(
    ("code", "reason"), [("NoSuchBucket", "no such bucket"), ("NoSuchKey", "no such object"), ("404", "no such object")]
)
def test_a_missing_bucket_or_object_is_named(s3: tuple[S3Access, Stubber], code: str, reason: str) -> None:
    access, stub = s3
    stub.add_client_error("get_object", code, "Not Found", http_status_code=404)
    with pytest.raises(PipelineError) as raised:
        access.open(URI)
    assert str(raised.value) == f"{URI}: {reason}"


def test_another_s3_error_carries_its_code_and_message(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_client_error("get_object", "InvalidObjectState", "The object is archived in Glacier", http_status_code=403)
    with pytest.raises(PipelineError) as raised:
        access.open(URI)
    assert str(raised.value) == f"{URI}: S3 error InvalidObjectState: The object is archived in Glacier"


def test_a_copy_not_visible_yet_is_retried(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_response("copy_object", {})
    stub.add_client_error("head_object", "404", "Not Found", http_status_code=404)
    with pytest.raises(TransientError, match="does not match its source"):
        access.copy_verified(ObjectInfo("s3://out/job/model.tar", 3, "e", None), "s3://arch/runs/r/model.tar")


def test_a_refused_copy_names_where_it_was_going(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_client_error("copy_object", "AccessDenied", "denied", http_status_code=403)
    with pytest.raises(PipelineError, match=r"^s3://arch/runs/r/model\.tar: access denied"):
        access.copy_verified(ObjectInfo("s3://out/job/model.tar", 3, "e", None), "s3://arch/runs/r/model.tar")


def test_the_region_of_a_bucket_of_another_account_is_refused_naming_the_bucket(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_client_error("get_bucket_location", "AccessDenied", "denied", http_status_code=403)
    with pytest.raises(PipelineError, match=r"^s3://their-bucket.*access denied"):
        access.bucket_region("their-bucket")


def test_a_listing_gives_every_object_of_every_page_without_quotes_in_etags(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    page = {"Bucket": "out", "Prefix": "job/", "ExpectedBucketOwner": ACCOUNT}
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "job/a", "Size": 1, "ETag": '"e1"'}], "IsTruncated": True, "NextContinuationToken": "t"},
        page,
    )
    stub.add_response(
        "list_objects_v2",
        {"Contents": [{"Key": "job/b", "Size": 2, "ETag": '"e2-3"'}]},
        {**page, "ContinuationToken": "t"},
    )
    assert list(access.list("s3://out/job/")) == [
        ObjectInfo("s3://out/job/a", 1, "e1", None),
        ObjectInfo("s3://out/job/b", 2, "e2-3", None),
    ]


def test_a_prefix_without_objects_lists_nothing(s3: tuple[S3Access, Stubber]) -> None:
    """S3 leaves `Contents` out of a page with no objects (a run that wrote no outputs yet)."""
    access, stub = s3
    stub.add_response(
        "list_objects_v2", {"KeyCount": 0}, {"Bucket": "out", "Prefix": "job/", "ExpectedBucketOwner": ACCOUNT}
    )
    assert list(access.list("s3://out/job/")) == []


def test_a_json_document_holding_a_time_is_written_with_the_time_as_text(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    written = b'{\n  "at": "2026-11-30 02:00:00+00:00"\n}'
    expected = {"Bucket": "arch", "Key": "r.json", "Body": written, "ContentType": "application/json"}
    stub.add_response("put_object", {"ETag": '"e"'}, {**expected, "ExpectedBucketOwner": ACCOUNT})
    assert access.put_json("s3://arch/r.json", {"at": at}).size == len(written)


def test_a_refused_write_names_the_object(s3: tuple[S3Access, Stubber]) -> None:
    access, stub = s3
    stub.add_client_error("put_object", "AccessDenied", "Access Denied", http_status_code=403)
    with pytest.raises(PipelineError, match=r"s3://arch/runs/r/run\.json.*access denied"):
        access.put_json("s3://arch/runs/r/run.json", {"a": 1})
