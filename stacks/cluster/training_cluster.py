"""What the pipeline needs to know about the training cluster, whether this app created it or found it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2


@dataclass(frozen=True)
class JobNetwork:
    """Where the job functions run to reach a private EKS API endpoint."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup


@dataclass(frozen=True)
class TrainingCluster:
    """The HyperPod cluster, its EKS cluster and restricted instance group, and how capacity is managed."""

    hyperpod_name: str
    hyperpod_arn: str
    eks_name: str
    instance_group: str
    resting_count: int
    capacity_mode: str
    zone: str  # the RIG's availability zone; "" for an existing cluster
    training_plan: bool
    execution_role_arn: str | None  # None for an existing cluster: PassRole to SageMaker of any role
    network: JobNetwork | None  # None for an existing cluster: its EKS API must be reachable from Lambda
