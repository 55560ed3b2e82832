"""s3:// URIs: parsing with bucket-name rules, shared by the recipe model and the pipeline."""

from __future__ import annotations

import re

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IP_LIKE = re.compile(r"[0-9]+(\.[0-9]+){3}")


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid S3 general-purpose bucket name, or None when it is."""
    if not 3 <= len(name) <= 63:
        return f"bucket name {name!r} must be 3 to 63 characters long"
    if not _BUCKET_CHARS.fullmatch(name):
        return f"bucket name {name!r} may contain only lowercase letters, digits, dots and hyphens"
    if name[0] in ".-" or name[-1] in ".-":
        return f"bucket name {name!r} must start and end with a letter or digit"
    if ".." in name:
        return f"bucket name {name!r} must not contain '..'"
    if _IP_LIKE.fullmatch(name):
        return f"bucket name {name!r} must not look like an IP address"
    if name.startswith("xn--"):
        return f"bucket name {name!r} must not start with 'xn--'"
    if name.endswith(("-s3alias", "--ol-s3")):
        return f"bucket name {name!r} must not end with '-s3alias' or '--ol-s3'"
    return None


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI; ValueError saying what is wrong otherwise."""
    if not uri.startswith("s3://"):
        raise ValueError("must be an s3:// URI")
    if any(ch.isspace() or not ch.isprintable() for ch in uri):
        raise ValueError("must not contain spaces or control characters")
    bucket, _, key = uri[len("s3://") :].partition("/")
    problem = bucket_name_problem(bucket)
    if problem:
        raise ValueError(problem)
    return bucket, key


def s3_uri(bucket: str, key: str = "") -> str:
    """The s3:// URI of a bucket and key."""
    return f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
