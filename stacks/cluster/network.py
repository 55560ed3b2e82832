"""The training cluster's network: a VPC whose private subnets reach the internet through NAT, and its groups.

Subnets, per configured availability zone (names from configuration: no lookup at synth):

* ``Cluster`` (private, /18): EKS control-plane interfaces, the HyperPod restricted instance group
  (only the subnet of `rig_zone`), the VPC endpoints and the job functions. Its route to the internet
  goes through a NAT gateway: the HyperPod dependencies chart's add-on images come from Docker Hub
  (`kubeflow/training-operator`, `mpioperator/mpi-operator`) and nvcr.io (the NVIDIA device plugin), as
  in AWS's reference cluster-setup template. AWS APIs are reached through VPC endpoints instead.
* ``Installer`` (/24), also behind NAT: the CodeBuild project that installs the HyperPod Helm charts.
* ``Public`` (/26): only the NAT gateways (`nat_gateways`: one per zone by default), nothing with a
  public address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.shared.deploy_functions import vpc_default_security_group_handler

CLUSTER_SUBNETS: Final = "Cluster"
INSTALLER_SUBNETS: Final = "Installer"

# Interface endpoints: every AWS API the nodes and the functions in the VPC call stays private (S3 and DynamoDB,
# the abort clean-up's lease table: gateway endpoints).
INTERFACE_ENDPOINTS: Final[Mapping[str, str]] = {
    "ecr.api": "image pull authorisation for the Nova training images and the HyperPod and EKS add-on images",
    "ecr.dkr": "image manifests and layer locations (the layers themselves come from S3 via the gateway endpoint)",
    "sts": "credentials of pods with IAM roles for service accounts and of the nodes' agents",
    "logs": "CloudWatch Logs: node and training-job logs (/aws/sagemaker/Clusters/<cluster>/<id>)",
    "ec2": "the VPC CNI (aws-node) attaching network interfaces and addresses to nodes for pods",
    "eks": "EKS API: nodes and the job functions read the cluster's endpoint and certificate (DescribeCluster)",
    "eks-auth": "EKS Pod Identity credentials (AssumeRoleForPodIdentity) for add-ons that use it",
    "sagemaker.api": "SageMaker API: Preflight's DescribeCluster",
    "states": "Step Functions: the abort clean-up starts the release workflow of a run that owned the instance group",
    "servicequotas": "Service Quotas: Preflight reads the ml.p5.48xlarge cluster-usage quota",
}
FSX_LUSTRE_PORTS: Final = ((988, 988), (1018, 1023))  # FSx for Lustre: LNet, and its client ports


class ClusterNetwork(Construct):
    """VPC, subnets, S3 gateway and interface endpoints, flow logs, and the security groups."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        availability_zones: Sequence[str],
        rig_zone: str,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        nat_gateways: int | None = None,
    ) -> None:
        """`nat_gateways`: how many NAT gateways (one per zone when None; fewer share one zone's)."""
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(availability_zones),
            nat_gateways=len(availability_zones) if nat_gateways is None else nat_gateways,
            subnet_configuration=[
                # Only the NAT gateway lives here (with its own Elastic IP): nothing gets a public address.
                ec2.SubnetConfiguration(
                    name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26, map_public_ip_on_launch=False
                ),
                ec2.SubnetConfiguration(
                    name=INSTALLER_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name=CLUSTER_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=18
                ),
            ],
        )
        vpc_default_security_group_handler(Stack.of(self))
        flow_logs = logs.LogGroup(
            self, "FlowLogs", retention=log_retention, encryption_key=key, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
        self.cluster_subnet_selection = ec2.SubnetSelection(subnet_group_name=CLUSTER_SUBNETS)
        self.cluster_subnets = self.vpc.select_subnets(subnet_group_name=CLUSTER_SUBNETS)
        self.installer_subnets = ec2.SubnetSelection(subnet_group_name=INSTALLER_SUBNETS)
        (self.rig_subnet,) = [s for s in self.cluster_subnets.subnets if s.availability_zone == rig_zone]
        for subnet in [*self.vpc.public_subnets, *self.vpc.private_subnets, *self.vpc.isolated_subnets]:
            cfn_subnet = subnet.node.default_child
            assert isinstance(cfn_subnet, ec2.CfnSubnet)
            # cfn-lint W3010 warns on zone names in a template: here they are the configured zones, on purpose.
            cfn_subnet.add_metadata(
                "cfn-lint",
                {
                    "config": {
                        "ignore_checks": ["W3010"],
                        "ignore_reasons": {"W3010": "Zone from nova-cpt:availability_zones: where the P5 capacity is"},
                    }
                },
            )

        self.cluster_security_group = self._group(
            "ClusterSecurityGroup",
            "Nova CPT cluster: EKS control plane, HyperPod nodes (EFA: all traffic within the group), FSx for Lustre",
        )
        self.installer_security_group = self._group(
            "InstallerSecurityGroup", "Nova CPT: the CodeBuild project that installs the HyperPod Helm charts"
        )
        self.function_security_group = self._group(
            "FunctionSecurityGroup", "Nova CPT: the pipeline functions that submit and follow training jobs"
        )
        endpoints = self._group("EndpointSecurityGroup", "Nova CPT: the VPC interface endpoints")

        cluster = self.cluster_security_group
        cluster.add_ingress_rule(cluster, ec2.Port.all_traffic(), "All traffic within the cluster (EFA, nodes, API)")
        cluster.add_egress_rule(cluster, ec2.Port.all_traffic(), "All traffic within the cluster (EFA requires it)")
        for low, high in FSX_LUSTRE_PORTS:
            cluster.add_ingress_rule(cluster, ec2.Port.tcp_range(low, high), "FSx for Lustre")
        for client in (self.installer_security_group, self.function_security_group):
            cluster.add_ingress_rule(client, ec2.Port.tcp(443), "Kubernetes API of the EKS control plane")
        for client in (cluster, self.installer_security_group, self.function_security_group):
            endpoints.add_ingress_rule(client, ec2.Port.tcp(443), "HTTPS to the AWS APIs")

        self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.cluster_subnet_selection]
        )
        self.vpc.add_gateway_endpoint(
            "DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.cluster_subnet_selection]
        )
        # HTTPS out to any address: the interface endpoints, S3 and DynamoDB (gateway endpoints, whose addresses
        # are not known at synth), the EKS API, and through NAT the image registries of the add-ons (Docker Hub,
        # nvcr.io) and, for the installer, GitHub and the chart repositories.
        for group in (cluster, self.function_security_group, self.installer_security_group):
            group.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS: VPC endpoints, S3, EKS API, registries"
            )

        for service in INTERFACE_ENDPOINTS:
            self.vpc.add_interface_endpoint(
                service.replace(".", "-").replace("-", " ").title().replace(" ", ""),
                service=ec2.InterfaceVpcEndpointAwsService(service),
                subnets=self.cluster_subnet_selection,
                security_groups=[endpoints],
                private_dns_enabled=True,
                open=False,  # HTTPS only from the cluster, installer and function groups (above)
            )

    def _group(self, id_: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(self, id_, vpc=self.vpc, description=description, allow_all_outbound=False)
