"""`StorageStack`: the stateful part of the Nova CPT deployment (KMS key and buckets).

Kept apart from the stateless stacks so that those can be destroyed and redeployed
freely. Its outputs are read by the ``cpt`` command; its public attributes are passed
to the later stacks as props.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import StorageConfig
from stacks.storage.access import BucketAccessPolicies
from stacks.storage.buckets import DatasetStorage
from stacks.storage.lease import CapacityLeaseTable

STORAGE_STACK_ID: Final = "NovaCptStorage"
"""Construct id (and default CloudFormation stack name) of the storage stack."""

OUTPUT_DATA_BUCKET: Final = "DataBucketName"
OUTPUT_OUTPUT_BUCKET: Final = "OutputBucketName"
OUTPUT_ARCHIVE_BUCKET: Final = "ArchiveBucketName"
OUTPUT_KMS_KEY_ARN: Final = "KmsKeyArn"
OUTPUT_ACCESS_LOG_BUCKET: Final = "AccessLogBucketName"
OUTPUT_LEASE_TABLE: Final = "LeaseTableName"


class StorageStack(Stack):
    """KMS key, data, output, archive and access-log buckets, and the capacity lease table (all RETAIN)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StorageConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        storage = DatasetStorage(
            self,
            "DatasetStorage",
            archive_transition_days=config.archive_transition_days,
            noncurrent_version_days=config.noncurrent_version_days,
        )
        self.key: kms.IKey = storage.key
        self.data_bucket: s3.IBucket = storage.data_bucket
        self.output_bucket: s3.IBucket = storage.output_bucket
        self.archive_bucket: s3.IBucket = storage.archive_bucket
        self.access_log_bucket: s3.IBucket = storage.access_log_bucket
        self.access = BucketAccessPolicies(
            self,
            "BucketAccess",
            key=storage.key,
            data_bucket=storage.data_bucket,
            output_bucket=storage.output_bucket,
            archive_bucket=storage.archive_bucket,
        )
        self.lease = CapacityLeaseTable(self, "CapacityLease", key=storage.key)

        CfnOutput(
            self,
            OUTPUT_DATA_BUCKET,
            value=self.data_bucket.bucket_name,
            description="Bucket for training and validation JSONL; uploads start the pipeline",
        )
        CfnOutput(
            self,
            OUTPUT_OUTPUT_BUCKET,
            value=self.output_bucket.bucket_name,
            description="Bucket of the default run.output_s3_path (manifest, TensorBoard logs)",
        )
        CfnOutput(
            self,
            OUTPUT_ARCHIVE_BUCKET,
            value=self.archive_bucket.bucket_name,
            description="Bucket for archived datasets and outputs",
        )
        CfnOutput(
            self,
            OUTPUT_ACCESS_LOG_BUCKET,
            value=self.access_log_bucket.bucket_name,
            description="Bucket of the S3 server access logs of the other buckets (retained like them)",
        )
        CfnOutput(
            self,
            OUTPUT_KMS_KEY_ARN,
            value=self.key.key_arn,
            description="KMS key that encrypts the data, output and archive buckets",
        )
        CfnOutput(
            self,
            OUTPUT_LEASE_TABLE,
            value=self.lease.table.table_name,
            description="DynamoDB table of the cluster's capacity lease and run queue (cpt status shows them)",
        )
