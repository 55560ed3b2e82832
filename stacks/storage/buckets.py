"""`DatasetStorage`: the KMS key and S3 buckets that hold CPT datasets and training outputs.

Stateful: lives in `StorageStack`. Construct ids below are part of the CloudFormation
logical ids; renaming one replaces (orphans, thanks to RETAIN) the bucket or key.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, FeatureFlags, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.shared.nag import acknowledge, skip_checkov

ABORT_INCOMPLETE_MULTIPART_DAYS: Final = 7
"""Days after which an unfinished multipart upload is aborted (its parts cost money)."""

ARCHIVE_STORAGE_CLASS: Final = s3.StorageClass.GLACIER_INSTANT_RETRIEVAL
"""Storage class of archived objects: millisecond reads, far cheaper storage than Standard."""

# Prefixes of the server access logs in the access-log bucket, one per source bucket.
ACCESS_LOG_PREFIXES: Final = {"data": "data-bucket/", "output": "output-bucket/", "archive": "archive-bucket/"}

# With this flag (cdk.json) S3 log delivery is granted by the log bucket's policy; without
# it CDK falls back to the LogDeliveryWrite ACL, which BUCKET_OWNER_ENFORCED forbids.
LOGS_USE_BUCKET_POLICY_FLAG: Final = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"


class DatasetStorage(Construct):
    """One customer managed KMS key and four versioned, private, TLS-only buckets.

    * `data_bucket`: users drop training/validation JSONL here; every Object Created
      event goes to the default EventBridge bus (the pipeline starts from it).
    * `output_bucket`: the default ``run.output_s3_path`` (manifest, TensorBoard logs).
    * `archive_bucket`: datasets and outputs kept for the record; objects move to
      Glacier Instant Retrieval after `archive_transition_days`.
    * `access_log_bucket`: S3 server access logs of the three buckets above.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive_transition_days: int,
        noncurrent_version_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if not FeatureFlags.of(self).is_enabled(LOGS_USE_BUCKET_POLICY_FLAG):
            raise ValueError(
                f"DatasetStorage needs the CDK feature flag {LOGS_USE_BUCKET_POLICY_FLAG!r} set to true "
                "in the context (cdk.json) so that access logs are granted by bucket policy, not ACL"
            )

        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the Nova CPT data, output and archive buckets",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

        # S3 server access log delivery cannot write to a bucket whose default
        # encryption is SSE-KMS, so the access-log bucket uses SSE-S3 (S3-managed keys).
        # (The AwsSolutions pack has no SSE-KMS rule, so this choice raises no finding
        # there to acknowledge; packs that have one, e.g. NIST 800-53 S3DefaultEncryptionKMS,
        # would need an acknowledgement with this reason.)
        self.access_log_bucket = self._bucket(
            "AccessLogBucket", encryption_key=None, noncurrent_version_days=noncurrent_version_days
        )
        no_self_logging = (
            "This is the server access log destination of the data, output and archive buckets; "
            "logging it into itself would log every log delivery, and a separate bucket would only "
            "move the same finding there."
        )
        acknowledge(
            self.access_log_bucket.node.default_child or self.access_log_bucket, "AwsSolutions-S1", no_self_logging
        )
        skip_checkov(self.access_log_bucket, "CKV_AWS_18", no_self_logging)

        self.data_bucket = self._bucket(
            "DataBucket",
            encryption_key=self.key,
            noncurrent_version_days=noncurrent_version_days,
            access_logs=(self.access_log_bucket, ACCESS_LOG_PREFIXES["data"]),
        )
        # Object Created (and the other S3 events) go to the default EventBridge bus.
        # Set on the L1 bucket instead of `event_bridge_enabled=True`: the L2 option adds a
        # Lambda-backed custom resource (Custom::S3BucketNotifications) with its own role,
        # while CloudFormation supports the setting natively. Consequence: do not call
        # `data_bucket.add_event_notification(...)`, whose custom resource would replace
        # this configuration; subscribe with EventBridge rules instead.
        cfn_data_bucket = self.data_bucket.node.default_child
        if not isinstance(cfn_data_bucket, s3.CfnBucket):  # pragma: no cover - CDK invariant
            raise TypeError("the data bucket has no CfnBucket default child")
        cfn_data_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )

        self.output_bucket = self._bucket(
            "OutputBucket",
            encryption_key=self.key,
            noncurrent_version_days=noncurrent_version_days,
            access_logs=(self.access_log_bucket, ACCESS_LOG_PREFIXES["output"]),
        )

        self.archive_bucket = self._bucket(
            "ArchiveBucket",
            encryption_key=self.key,
            noncurrent_version_days=noncurrent_version_days,
            access_logs=(self.access_log_bucket, ACCESS_LOG_PREFIXES["archive"]),
            transition_after_days=archive_transition_days,
        )

    def _bucket(
        self,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None,
        noncurrent_version_days: int,
        access_logs: tuple[s3.IBucket, str] | None = None,
        transition_after_days: int | None = None,
    ) -> s3.Bucket:
        """A bucket with the settings every bucket of this construct shares.

        With `encryption_key`: SSE-KMS with an S3 Bucket Key (fewer KMS requests);
        without: SSE-S3. `access_logs` is (destination bucket, key prefix).
        """
        rules = [
            s3.LifecycleRule(
                id="ExpireNoncurrentVersions",
                noncurrent_version_expiration=Duration.days(noncurrent_version_days),
            ),
            s3.LifecycleRule(
                id="AbortIncompleteMultipartUploads",
                abort_incomplete_multipart_upload_after=Duration.days(ABORT_INCOMPLETE_MULTIPART_DAYS),
            ),
        ]
        if transition_after_days is not None:
            rules.append(
                s3.LifecycleRule(
                    id="TransitionToArchiveStorage",
                    transitions=[
                        s3.Transition(
                            storage_class=ARCHIVE_STORAGE_CLASS,
                            transition_after=Duration.days(transition_after_days),
                        )
                    ],
                )
            )
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED if encryption_key is None else s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=None if encryption_key is None else True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=rules,
            server_access_logs_bucket=None if access_logs is None else access_logs[0],
            server_access_logs_prefix=None if access_logs is None else access_logs[1],
            removal_policy=RemovalPolicy.RETAIN,
            auto_delete_objects=False,
        )
