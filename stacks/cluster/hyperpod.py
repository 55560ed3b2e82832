"""The SageMaker HyperPod cluster (`AWS::SageMaker::Cluster`): EKS orchestrator, one P5 restricted instance group.

The RIG's `InstanceCount` in the template is its resting size (0 on demand, the maximum when
always-on); the pipeline changes the live count with `UpdateCluster` during a run. A stack update
sets the count back to the template's value, so deploy between runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from novacpt.catalog import INSTANCE_TYPE
from stacks.shared.nag import acknowledge_managed_policies, acknowledge_wildcard_resources

DEEP_HEALTH_CHECKS: Final = ("InstanceStress", "InstanceConnectivity")
# What the VPC CNI and the HyperPod agents do with network interfaces on the nodes.
_INTERFACE_ACTIONS: Final = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
)
_DESCRIBE_ACTIONS: Final = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
_ECR_PULL: Final = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


class HyperPodCluster(Construct):
    """The cluster, its restricted instance group and the group's execution role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        eks_cluster_arn: str,
        rig_subnet: ec2.ISubnet,
        security_group: ec2.ISecurityGroup,
        instance_group: str,
        resting_count: int,
        fsx_size_gib: int,
        fsx_throughput: int,
        volume_gb: int,
        training_plan_arn: str | None,
        deep_health_checks: bool,
        data_policies: Sequence[iam.IManagedPolicy],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSageMakerClusterInstanceRolePolicy"),
                *data_policies,
            ],
            description="Nova CPT restricted instance group: nodes, training images, datasets and outputs",
        )
        interfaces = [
            stack.format_arn(service="ec2", resource="network-interface", resource_name="*"),
            stack.format_arn(service="ec2", resource="subnet", resource_name=rig_subnet.subnet_id),
            stack.format_arn(service="ec2", resource="security-group", resource_name=security_group.security_group_id),
        ]
        # Nova training images live in AWS accounts of the region; HyperPod and EKS add-on images too.
        repositories = stack.format_arn(service="ecr", account="*", resource="repository", resource_name="*")
        self.execution_role.add_to_policy(iam.PolicyStatement(actions=list(_INTERFACE_ACTIONS), resources=interfaces))
        self.execution_role.add_to_policy(iam.PolicyStatement(actions=list(_DESCRIBE_ACTIONS), resources=["*"]))
        self.execution_role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.execution_role.add_to_policy(iam.PolicyStatement(actions=list(_ECR_PULL), resources=[repositories]))
        self.execution_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateTags"],
                resources=[interfaces[0]],
                conditions={"StringEquals": {"ec2:CreateAction": "CreateNetworkInterface"}},
            )
        )
        acknowledge_managed_policies(
            self.execution_role,
            ["AmazonSageMakerClusterInstanceRolePolicy"],
            "AmazonSageMakerClusterInstanceRolePolicy is the policy AWS defines for HyperPod nodes (cluster "
            "agents, logs, metrics); the data and output access are this project's bucket-scoped managed policies.",
        )
        acknowledge_wildcard_resources(
            self.execution_role,
            ["*", interfaces[0], repositories],
            "EC2 Describe* and ecr:GetAuthorizationToken accept only Resource '*'; the VPC CNI creates network "
            "interfaces whose IDs are not known in advance ('network-interface/*', only in the RIG's subnet and "
            "security group); Nova images are pulled from AWS-owned repositories of the region (any account).",
        )
        group = sagemaker.CfnCluster.ClusterRestrictedInstanceGroupProperty(
            instance_group_name=instance_group,
            instance_type=INSTANCE_TYPE,
            instance_count=resting_count,
            execution_role=self.execution_role.role_arn,
            environment_config=sagemaker.CfnCluster.EnvironmentConfigProperty(
                f_sx_lustre_config=sagemaker.CfnCluster.FSxLustreConfigProperty(
                    size_in_gib=fsx_size_gib, per_unit_storage_throughput=fsx_throughput
                )
            ),
            instance_storage_configs=[
                sagemaker.CfnCluster.ClusterInstanceStorageConfigProperty(
                    ebs_volume_config=sagemaker.CfnCluster.ClusterEbsVolumeConfigProperty(volume_size_in_gb=volume_gb)
                )
            ],
            on_start_deep_health_checks=list(DEEP_HEALTH_CHECKS) if deep_health_checks else None,
            training_plan_arn=training_plan_arn,
        )
        self.cluster = sagemaker.CfnCluster(
            self,
            "Cluster",
            cluster_name=name,
            orchestrator=sagemaker.CfnCluster.OrchestratorProperty(
                eks=sagemaker.CfnCluster.ClusterOrchestratorEksConfigProperty(cluster_arn=eks_cluster_arn)
            ),
            vpc_config=sagemaker.CfnCluster.VpcConfigProperty(
                security_group_ids=[security_group.security_group_id], subnets=[rig_subnet.subnet_id]
            ),
            node_recovery="Automatic",
            restricted_instance_groups=[group],
        )
        self.name = name
        self.arn = self.cluster.attr_cluster_arn


def cluster_arn_pattern(scope: Construct) -> str:
    """ARN of any HyperPod cluster of this account and region (for a cluster found by name at deploy time)."""
    return Stack.of(scope).format_arn(
        service="sagemaker", resource="cluster", resource_name="*", arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )
