"""Managed policies for the buckets, defined beside them: the only grants other stacks attach.

Keeping the object-ARN wildcards next to the buckets (same-stack references) lets each one be
acknowledged precisely; the stateless stacks attach these policies to their roles.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.shared.nag import acknowledge_wildcard_resources

RUNS_PREFIX = "runs/*"  # the only prefix the pipeline writes, in the archive bucket

_OBJECT_REASON = (
    "Object-level S3 actions need an object ARN: '/*' covers the objects of this one bucket (datasets the "
    "cluster reads, or outputs it writes); '/runs/*' is the archive prefix the pipeline owns. Actions are "
    "listed one by one, with no action wildcard."
)


class BucketAccessPolicies(Construct):
    """Read data, read or write outputs, write the archive's runs/ prefix, and locate the buckets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        data_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        # The key only through S3 (SSE-KMS): whoever holds these policies never calls KMS directly, so a
        # function in the VPC needs no KMS endpoint, and the key cannot be used outside the buckets.
        via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}}
        decrypt = iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn], conditions=via_s3)
        encrypt = iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn], conditions=via_s3
        )
        data_objects = data_bucket.arn_for_objects("*")
        output_objects = output_bucket.arn_for_objects("*")
        archive_runs = archive_bucket.arn_for_objects(RUNS_PREFIX)
        self.read_data = self._policy(
            "ReadData",
            "Read the datasets in the data bucket",
            [
                # ValidateShard reads the version PlanValidation pinned (GetObject with VersionId).
                iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[data_objects]),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[data_bucket.bucket_arn]),
                decrypt,
            ],
            [data_objects],
        )
        self.read_outputs = self._policy(
            "ReadOutputs",
            "Read training outputs in the output bucket",
            [
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[output_objects]),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[output_bucket.bucket_arn]),
                decrypt,
            ],
            [output_objects],
        )
        self.write_outputs = self._policy(
            "WriteOutputs",
            "Write training outputs (manifest, TensorBoard logs) to the output bucket",
            [
                iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[output_objects]),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[output_bucket.bucket_arn]),
                encrypt,
            ],
            [output_objects],
        )
        self.write_archive = self._policy(
            "WriteArchive",
            "Write run records and reports under runs/ in the archive bucket",
            [
                # ArchiveOutputs reads each dataset report at the version MergeReports wrote (GetObject with
                # VersionId) to build report.json.
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], resources=[archive_runs]
                ),
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[archive_bucket.bucket_arn]),
                encrypt,
            ],
            [archive_runs],
        )
        self.locate_buckets = self._policy(
            "LocateBuckets",
            "Read the region of the data and output buckets (recipe path checks)",
            [
                iam.PolicyStatement(
                    actions=["s3:GetBucketLocation"], resources=[data_bucket.bucket_arn, output_bucket.bucket_arn]
                )
            ],
            [],
        )

    def _policy(
        self, id_: str, description: str, statements: list[iam.PolicyStatement], wildcards: list[str]
    ) -> iam.ManagedPolicy:
        policy = iam.ManagedPolicy(self, id_, description=f"Nova CPT: {description}", statements=statements)
        acknowledge_wildcard_resources(policy, wildcards, _OBJECT_REASON)
        return policy
