"""The EKS cluster that orchestrates the HyperPod cluster (L1 `CfnCluster`: no kubectl layer, no custom resources).

Access entries only (authentication mode API), every control-plane log type, secrets encrypted with
the cluster key, a private API endpoint (public as well only for `public_access_cidrs`). The default
add-ons EKS installs itself (VPC CNI, CoreDNS, kube-proxy) are kept: the RIG dependencies patch them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.shared.nag import acknowledge, acknowledge_managed_policies

CONTROL_PLANE_LOGS: Final = ("api", "audit", "authenticator", "controllerManager", "scheduler")
CLUSTER_ADMIN_POLICY: Final = "AmazonEKSClusterAdminPolicy"


class EksControlPlane(Construct):
    """EKS cluster for HyperPod, with its service role and the cluster-admin access entries asked for."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        version: str,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        public_access_cidrs: Sequence[str],
        admin_principal_arns: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
            description="EKS control plane of the Nova CPT HyperPod cluster",
        )
        acknowledge_managed_policies(
            role,
            ["AmazonEKSClusterPolicy"],
            "AmazonEKSClusterPolicy is the policy AWS defines (and updates) for an EKS cluster role: the control "
            "plane's permissions on EC2, ELB and KMS are AWS's to define, not this project's.",
        )
        self.cluster = eks.CfnCluster(
            self,
            "Cluster",
            name=name,
            version=version,
            role_arn=role.role_arn,
            resources_vpc_config=eks.CfnCluster.ResourcesVpcConfigProperty(
                subnet_ids=[s.subnet_id for s in subnets],
                security_group_ids=[security_group.security_group_id],
                endpoint_private_access=True,
                endpoint_public_access=bool(public_access_cidrs),
                public_access_cidrs=list(public_access_cidrs) or None,
            ),
            access_config=eks.CfnCluster.AccessConfigProperty(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            logging=eks.CfnCluster.LoggingProperty(
                cluster_logging=eks.CfnCluster.ClusterLoggingProperty(
                    enabled_types=[eks.CfnCluster.LoggingTypeConfigProperty(type=t) for t in CONTROL_PLANE_LOGS]
                )
            ),
            encryption_config=[
                eks.CfnCluster.EncryptionConfigProperty(
                    provider=eks.CfnCluster.ProviderProperty(key_arn=key.key_arn), resources=["secrets"]
                )
            ],
        )
        key.grant(role, "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant")
        self.name = name
        self.arn = self.cluster.attr_arn
        for index, principal in enumerate(admin_principal_arns):
            access_entry(self, f"Admin{index}", cluster_name=self.cluster.ref, principal_arn=principal)
        if public_access_cidrs:
            acknowledge(
                self.cluster,
                "AwsSolutions-EKS1",
                "The public API endpoint is on only because nova-cpt:eks_public_access_cidrs asks for it, and it "
                "accepts only those CIDRs; the private endpoint stays on for the nodes and functions.",
            )


def access_entry(
    scope: Construct,
    id_: str,
    *,
    cluster_name: str,
    principal_arn: str,
    policy: str | None = CLUSTER_ADMIN_POLICY,
    namespaces: Sequence[str] = (),
    kubernetes_groups: Sequence[str] = (),
) -> eks.CfnAccessEntry:
    """An EKS access entry for `principal_arn`: one access policy (cluster-wide or in `namespaces`) and/or
    Kubernetes groups that in-cluster RBAC binds."""
    access_scope = (
        eks.CfnAccessEntry.AccessScopeProperty(type="namespace", namespaces=list(namespaces))
        if namespaces
        else eks.CfnAccessEntry.AccessScopeProperty(type="cluster")
    )
    return eks.CfnAccessEntry(
        scope,
        id_,
        cluster_name=cluster_name,
        principal_arn=principal_arn,
        type="STANDARD",
        kubernetes_groups=list(kubernetes_groups) or None,
        access_policies=[
            eks.CfnAccessEntry.AccessPolicyProperty(
                policy_arn=f"arn:{Stack.of(scope).partition}:eks::aws:cluster-access-policy/{policy}",
                access_scope=access_scope,
            )
        ]
        if policy
        else None,
    )


def eks_cluster_arn(scope: Construct, name: str) -> str:
    """The ARN of the EKS cluster `name` in this stack's account and region."""
    return Stack.of(scope).format_arn(
        service="eks", resource="cluster", resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )
