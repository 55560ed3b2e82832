"""`ClusterStack`: the training cluster (VPC, EKS, HyperPod dependencies, HyperPod with a P5 RIG), or an existing one.

With ``existing_cluster_name`` nothing is created but a deploy-time lookup of that cluster's ARN
(SageMaker DescribeCluster), which scopes the pipeline's permissions to it.

The stack is environment-agnostic unless the CDK CLI gives a region. Availability zone names come
from configuration, so without a known region the template carries a rule that refuses deployment
to any region but ``nova-cpt:region``.
"""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Aws, CfnOutput, CfnRule, CfnRuleAssertion, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.cluster.dependencies import HyperPodDependencies
from stacks.cluster.eks import EksControlPlane
from stacks.cluster.hyperpod import HyperPodCluster, cluster_arn_pattern
from stacks.cluster.network import ClusterNetwork
from stacks.cluster.training_cluster import JobNetwork, TrainingCluster
from stacks.config import ClusterConfig
from stacks.shared.deploy_functions import aws_custom_resource_provider
from stacks.shared.log_key import logs_key
from stacks.shared.nag import acknowledge_wildcard_resources
from stacks.storage.access import BucketAccessPolicies

CLUSTER_STACK_ID: Final = "NovaCptCluster"
OUTPUT_HYPERPOD_CLUSTER: Final = "HyperPodClusterName"
OUTPUT_HYPERPOD_ARN: Final = "HyperPodClusterArn"
OUTPUT_EKS_CLUSTER: Final = "EksClusterName"
OUTPUT_INSTANCE_GROUP: Final = "InstanceGroupName"


class ClusterStack(Stack):
    """The HyperPod cluster the pipeline trains on; `training_cluster` is what the pipeline stack needs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ClusterConfig,
        access: BucketAccessPolicies,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = logs_key(self, "Key", "Encrypts the Nova CPT cluster stack's log groups, EKS secrets and build artifacts")
        name, eks_name = config.existing_cluster_name, config.existing_eks_cluster_name
        if name and eks_name:
            self.training_cluster = self._existing(config, key, name, eks_name)
        else:
            self.training_cluster = self._create(config, key, access)
        if Token.is_unresolved(self.region):
            CfnRule(
                self,
                "ConfiguredRegion",
                assertions=[
                    CfnRuleAssertion(
                        assert_=Fn.condition_equals(Aws.REGION, config.region),
                        assert_description=f"This template was synthesised for {config.region} (nova-cpt:region, "
                        "and its availability_zones): deploy it there, or synthesise again for your region.",
                    )
                ],
            )
        cluster = self.training_cluster
        for output_id, value, description in (
            (OUTPUT_HYPERPOD_CLUSTER, cluster.hyperpod_name, "HyperPod cluster the pipeline trains on"),
            (OUTPUT_HYPERPOD_ARN, cluster.hyperpod_arn, "Its ARN"),
            (OUTPUT_EKS_CLUSTER, cluster.eks_name, "Its EKS cluster (aws eks update-kubeconfig --name ...)"),
            (OUTPUT_INSTANCE_GROUP, cluster.instance_group, "Its restricted instance group of ml.p5.48xlarge"),
        ):
            CfnOutput(self, output_id, value=value, description=description)

    def _create(self, config: ClusterConfig, key: kms.IKey, access: BucketAccessPolicies) -> TrainingCluster:
        network = ClusterNetwork(
            self,
            "Network",
            cidr=config.vpc_cidr,
            availability_zones=config.availability_zones,
            rig_zone=config.rig_zone,
            key=key,
            log_retention=config.log_retention,
            nat_gateways=config.nat_gateways,
        )
        eks = EksControlPlane(
            self,
            "Eks",
            name=f"{config.cluster_name}-eks",
            version=config.kubernetes_version,
            subnets=network.cluster_subnets.subnets,
            security_group=network.cluster_security_group,
            key=key,
            public_access_cidrs=config.eks_public_access_cidrs,
            admin_principal_arns=config.eks_admin_principal_arns,
        )
        dependencies = HyperPodDependencies(
            self,
            "Dependencies",
            eks_cluster_name=eks.name,
            kubernetes_version=config.kubernetes_version,
            vpc=network.vpc,
            subnets=network.installer_subnets,
            security_group=network.installer_security_group,
            key=key,
            log_retention=config.log_retention,
        )
        dependencies.node.add_dependency(eks.cluster)
        hyperpod = HyperPodCluster(
            self,
            "HyperPod",
            name=config.cluster_name,
            eks_cluster_arn=eks.arn,
            rig_subnet=network.rig_subnet,
            security_group=network.cluster_security_group,
            instance_group=config.instance_group_name,
            resting_count=config.resting_count,
            fsx_size_gib=config.fsx_size_gib,
            fsx_throughput=config.fsx_throughput_mbps_per_tib,
            volume_gb=config.instance_volume_gb,
            training_plan_arn=config.training_plan_arn,
            deep_health_checks=config.deep_health_checks,
            data_policies=[access.read_data, access.write_outputs],
        )
        hyperpod.node.add_dependency(dependencies.installed)
        return TrainingCluster(
            hyperpod_name=hyperpod.name,
            hyperpod_arn=hyperpod.arn,
            eks_name=eks.name,
            instance_group=config.instance_group_name,
            resting_count=config.resting_count,
            capacity_mode=config.capacity_mode,
            zone=config.rig_zone,
            training_plan=config.training_plan_arn is not None,
            execution_role_arn=hyperpod.execution_role.role_arn,
            network=JobNetwork(network.vpc, network.cluster_subnet_selection, network.function_security_group),
        )

    def _existing(self, config: ClusterConfig, key: kms.IKey, name: str, eks_name: str) -> TrainingCluster:
        lookup = cr.AwsCustomResource(
            self,
            "ExistingCluster",
            on_update=cr.AwsSdkCall(
                service="SageMaker",
                action="describeCluster",
                parameters={"ClusterName": name},
                physical_resource_id=cr.PhysicalResourceId.of(name),
                output_paths=["ClusterArn"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["sagemaker:DescribeCluster"], resources=[cluster_arn_pattern(self)])]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self,
                "ExistingClusterLogs",
                retention=config.log_retention,
                encryption_key=key,
                removal_policy=RemovalPolicy.DESTROY,
            ),
        )
        acknowledge_wildcard_resources(
            lookup,
            [cluster_arn_pattern(self)],
            "HyperPod cluster ARNs end in an ID, not the name: finding the existing cluster by name needs "
            "DescribeCluster on the account's clusters in this region (read only, at deployment).",
        )
        aws_custom_resource_provider(self)
        return TrainingCluster(
            hyperpod_name=name,
            hyperpod_arn=lookup.get_response_field("ClusterArn"),
            eks_name=eks_name,
            instance_group=config.instance_group_name,
            resting_count=config.resting_count,
            capacity_mode=config.capacity_mode,
            zone="",
            training_plan=False,
            execution_role_arn=None,
            network=None,
        )
