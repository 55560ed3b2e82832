"""`CapacityLeaseTable`: the DynamoDB table holding who owns the P5 instance group, and the runs waiting for it.

Stateful (StorageStack): a lease must outlive redeployments of the pipeline, or a run could lose
the group it is training on. On-demand, encrypted with the project key, point-in-time recovery.
The item layout is `novacpt.adapters.lease`'s.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# With a customer managed key, DynamoDB uses the key on the caller's behalf: callers need these on it,
# and only through DynamoDB (kms:ViaService), so no caller calls KMS itself (no KMS endpoint in the VPC).
_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]


class CapacityLeaseTable(Construct):
    """The table, plus managed policies to use it (read-write for the pipeline, read-only for watching)."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        via_dynamodb = {"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"}}
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="group", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="entry", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.use = iam.ManagedPolicy(
            self,
            "UseLease",
            description="Nova CPT: take, release and queue for the cluster's capacity lease",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "dynamodb:GetItem",
                        "dynamodb:Query",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    resources=[self.table.table_arn],
                ),
                iam.PolicyStatement(actions=_KEY_ACTIONS, resources=[key.key_arn], conditions=via_dynamodb),
            ],
        )
        self.read = iam.ManagedPolicy(
            self,
            "ReadLease",
            description="Nova CPT: read the cluster's capacity lease and queue",
            statements=[
                iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:Query"], resources=[self.table.table_arn]),
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:DescribeKey"], resources=[key.key_arn], conditions=via_dynamodb
                ),
            ],
        )
