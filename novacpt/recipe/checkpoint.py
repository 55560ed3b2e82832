"""Checkpoints a run may start from: `run.model_name_or_path` as an S3 path.

A Nova CPT job writes its final checkpoint to a service-owned escrow bucket named after the
customer's account, `s3://customer-escrow-<account>-<suffix>/...`, and names it in the
`checkpoint_s3_bucket` key of its `manifest.json` (domain facts section 6). Any other bucket is
not a Nova checkpoint: the container could not read it, and a console override could point it at
someone else's bucket. The account check needs the deployment's account: `checkpoint_account_problem`.
"""

from __future__ import annotations

import re

from novacpt.kernel.s3uri import split_s3_uri

ESCROW_PREFIX = "customer-escrow-"
_ESCROW_BUCKET = re.compile(r"customer-escrow-(?P<account>[0-9]{12})(?:-[a-z0-9][a-z0-9-]*)?")
EXAMPLE = "s3://customer-escrow-<account>-<id>/<job>/..."


def checkpoint_account(uri: str) -> str | None:
    """The account id in an escrow checkpoint URI, or None when `uri` is not one."""
    try:
        bucket, _ = split_s3_uri(uri)
    except ValueError:
        return None
    match = _ESCROW_BUCKET.fullmatch(bucket)
    return match["account"] if match else None


def checkpoint_problem(uri: str) -> str | None:
    """Why `uri` is not a Nova checkpoint path ("must be ..."), or None when it is one."""
    try:
        bucket, _ = split_s3_uri(uri)
    except ValueError as exc:
        return str(exc)
    if _ESCROW_BUCKET.fullmatch(bucket) is None:
        return (
            f"must be a Nova checkpoint in a customer-escrow bucket ({EXAMPLE}, the checkpoint_s3_bucket "
            f"of an earlier run's manifest.json), not a path in bucket {bucket!r}"
        )
    return None


def checkpoint_account_problem(uri: str, account_id: str) -> str | None:
    """Why `uri` is not a checkpoint of `account_id` ("must be ..."), or None when it is one."""
    problem = checkpoint_problem(uri)
    if problem:
        return problem
    owner = checkpoint_account(uri)
    if owner != account_id:
        return f"must be a checkpoint of this account ({ESCROW_PREFIX}{account_id}-...), not of account {owner}"
    return None
