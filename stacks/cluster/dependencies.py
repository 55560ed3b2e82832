"""Installs the HyperPod Helm chart and the restricted instance group (RIG) dependencies before the cluster exists.

At deploy time, a CodeBuild project in the installer subnets (internet through the NAT gateway)
downloads aws/sagemaker-hyperpod-cli at a pinned commit from GitHub, installs
``helm_chart/HyperPodHelmChart`` (release ``hyperpod-dependencies``, namespace ``kube-system``) and then
runs the repository's ``install_rig_dependencies.sh`` (release ``rig-dependencies``) against the EKS
cluster. A custom resource starts the build; the build signals a CloudFormation wait condition when it
ends, and the HyperPod cluster depends on that condition. Nothing of the chart is copied into this project.

A new pin (or a new EKS cluster or Kubernetes version) gives the wait condition a new logical id, so
the next deployment installs again; the RIG step is skipped when its release already exists, as the
script asks.
"""

from __future__ import annotations

import hashlib
from typing import Final

from aws_cdk import ArnFormat, Aws, CfnWaitCondition, CfnWaitConditionHandle, Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from novacpt.jobs.manifests import DEFAULT_NAMESPACE
from stacks.cluster.eks import access_entry, eks_cluster_arn
from stacks.shared.deploy_functions import aws_custom_resource_provider
from stacks.shared.nag import acknowledge_wildcard_resources

HYPERPOD_CLI_REPOSITORY: Final = "aws/sagemaker-hyperpod-cli"
# Head of its release_v2 branch (2026-04-14): the branch whose helm_chart/ holds install_rig_dependencies.sh.
HYPERPOD_CLI_COMMIT: Final = "abcdc77b3e4ca160874021c6615baf0dbb96c69b"
HELM_VERSION: Final = "v3.16.4"
YQ_VERSION: Final = "v4.44.3"  # the RIG script needs yq 4
INSTALL_TIMEOUT: Final = Duration.minutes(60)
STANDARD_RELEASE: Final = "hyperpod-dependencies"
RIG_RELEASE: Final = "rig-dependencies"  # fixed by install_rig_dependencies.sh
_VPC_DESCRIBE: Final = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]

# The pipeline's job functions belong to this Kubernetes group (their EKS access entries say so).
# EKS access policies cannot grant custom resources such as kubeflow.org's PyTorchJob, so the
# installer binds the group to a Role in the jobs' namespace with exactly what the functions do.
JOB_GROUP: Final = "nova-cpt-jobs"
JOB_NAMESPACE: Final = DEFAULT_NAMESPACE  # where the pipeline submits jobs
JOB_RBAC: Final = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: {JOB_GROUP}, namespace: {JOB_NAMESPACE}}}
rules:
- {{apiGroups: [kubeflow.org], resources: [pytorchjobs], verbs: [create, get, delete]}}
- {{apiGroups: [""], resources: [configmaps], verbs: [create, get, delete]}}
- {{apiGroups: [""], resources: [pods], verbs: [list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {JOB_GROUP}, namespace: {JOB_NAMESPACE}}}
subjects: [{{kind: Group, name: {JOB_GROUP}, apiGroup: rbac.authorization.k8s.io}}]
roleRef: {{kind: Role, name: {JOB_GROUP}, apiGroup: rbac.authorization.k8s.io}}
"""

_BUILD_COMMANDS: Final = [
    'mkdir -p "$HOME/bin" && export PATH="$HOME/bin:$PATH"',
    'curl -fsSL -o helm.tgz "https://get.helm.sh/helm-$HELM_VERSION-linux-amd64.tar.gz"',
    'echo "$(curl -fsSL "https://get.helm.sh/helm-$HELM_VERSION-linux-amd64.tar.gz.sha256sum" | cut -d" " -f1)'
    '  helm.tgz" | sha256sum -c -',
    'tar -xzf helm.tgz && install linux-amd64/helm "$HOME/bin/helm"',
    'curl -fsSL -o kubectl "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl"',
    'echo "$(curl -fsSL "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl.sha256")  kubectl"'
    " | sha256sum -c -",
    'install kubectl "$HOME/bin/kubectl"',
    'curl -fsSL -o "$HOME/bin/yq" "https://github.com/mikefarah/yq/releases/download/$YQ_VERSION/yq_linux_amd64"',
    'chmod +x "$HOME/bin/yq"',
    'curl -fsSL "https://github.com/$HYPERPOD_CLI_REPOSITORY/archive/$HYPERPOD_CLI_COMMIT.tar.gz" | tar -xz',
    'aws eks update-kubeconfig --name "$EKS_CLUSTER" --region "$AWS_REGION"',
    'cd "sagemaker-hyperpod-cli-$HYPERPOD_CLI_COMMIT/helm_chart"',
    "helm dependency update HyperPodHelmChart",
    f"helm upgrade --install {STANDARD_RELEASE} HyperPodHelmChart --namespace kube-system",
    f"if helm status {RIG_RELEASE} --namespace kube-system > /dev/null 2>&1; "
    'then echo "RIG dependencies already installed"; '
    "else yes y | bash install_rig_dependencies.sh; fi",
    f"kubectl create namespace {JOB_NAMESPACE} --dry-run=client -o yaml | kubectl apply -f -",
    'printf "%s" "$JOB_RBAC" | kubectl apply -f -',
]
# Tell CloudFormation how the build ended (the wait condition's presigned URL; empty for a manual run).
_SIGNAL: Final = [
    'if [ "$CODEBUILD_BUILD_SUCCEEDING" = "1" ]; then STATUS=SUCCESS; else STATUS=FAILURE; fi',
    'BODY="{\\"Status\\":\\"$STATUS\\",\\"UniqueId\\":\\"$CODEBUILD_BUILD_ID\\",\\"Data\\":\\"$STATUS\\",'
    '\\"Reason\\":\\"HyperPod Helm charts: $STATUS, CodeBuild build $CODEBUILD_BUILD_ID\\"}"',
    'if [ -n "$WAIT_HANDLE_URL" ]; then '
    'curl -fsS -X PUT -H "Content-Type:" --data-binary "$BODY" "$WAIT_HANDLE_URL"; fi',
]


class HyperPodDependencies(Construct):
    """CodeBuild installer, the custom resource that starts it, and the wait condition it signals."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        eks_cluster_name: str,
        kubernetes_version: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, encryption_key=key, removal_policy=RemovalPolicy.DESTROY
        )
        self.project = codebuild.Project(
            self,
            "Installer",
            description=f"Installs the HyperPod Helm charts of {HYPERPOD_CLI_REPOSITORY}@{HYPERPOD_CLI_COMMIT[:12]}",
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "env": {"shell": "bash"},
                    "phases": {"build": {"commands": _BUILD_COMMANDS, "finally": _SIGNAL}},
                }
            ),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0, compute_type=codebuild.ComputeType.SMALL
            ),
            environment_variables={
                name: codebuild.BuildEnvironmentVariable(value=value)
                for name, value in {
                    "EKS_CLUSTER": eks_cluster_name,
                    "HYPERPOD_CLI_REPOSITORY": HYPERPOD_CLI_REPOSITORY,
                    "HYPERPOD_CLI_COMMIT": HYPERPOD_CLI_COMMIT,
                    "HELM_VERSION": HELM_VERSION,
                    "KUBECTL_VERSION": f"v{kubernetes_version}.0",
                    "YQ_VERSION": YQ_VERSION,
                    "WAIT_HANDLE_URL": "",
                    "JOB_RBAC": JOB_RBAC,
                }.items()
            },
            vpc=vpc,
            subnet_selection=subnets,
            security_groups=[security_group],
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
            timeout=INSTALL_TIMEOUT,
        )
        role = self.project.role
        assert role is not None  # the project makes its own role
        # The key is set on the L1 project with explicit actions: the L2's grant would use action wildcards.
        cfn_project = self.project.node.default_child
        assert isinstance(cfn_project, codebuild.CfnProject)
        cfn_project.encryption_key = key.key_arn
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], resources=[key.key_arn])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["eks:DescribeCluster"], resources=[eks_cluster_arn(self, eks_cluster_name)])
        )
        admin = access_entry(self, "InstallerAccess", cluster_name=eks_cluster_name, principal_arn=role.role_arn)
        stack = Stack.of(self)
        interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        # CDK lets a VPC project create and delete any network interface; only its subnets and group are needed.
        vpc_policy = self.project.node.find_child("PolicyDocument").node.default_child
        assert isinstance(vpc_policy, iam.CfnPolicy)
        vpc_policy.add_property_override(
            "PolicyDocument.Statement",
            [
                {"Effect": "Allow", "Action": _VPC_DESCRIBE, "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "ec2:CreateNetworkInterface",
                    "Resource": [
                        interfaces,
                        stack.format_arn(
                            service="ec2", resource="security-group", resource_name=security_group.security_group_id
                        ),
                        *(
                            stack.format_arn(service="ec2", resource="subnet", resource_name=subnet.subnet_id)
                            for subnet in vpc.select_subnets(subnet_group_name=subnets.subnet_group_name).subnets
                        ),
                    ],
                },
                {"Effect": "Allow", "Action": "ec2:DeleteNetworkInterface", "Resource": interfaces},
            ],
        )
        acknowledge_wildcard_resources(
            self.project,
            [
                "*",
                interfaces,
                # CDK's own statement for VPC projects builds this ARN from the pseudo parameters.
                f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:network-interface/*",
                log_group.log_group_arn,
                stack.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=f"/aws/codebuild/{self.project.project_name}:*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
                stack.format_arn(
                    service="codebuild", resource="report-group", resource_name=f"{self.project.project_name}-*"
                ),
            ],
            "A CodeBuild project in a VPC describes subnets, security groups, VPCs and DHCP options (Resource '*' "
            "only) and creates network interfaces whose IDs are not known in advance; the log group ARNs end in "
            "':*' for the builds' own streams, and '<project>-*' are the project's own report groups (CDK adds "
            "these statements to every project).",
        )

        fingerprint = hashlib.sha256(
            f"{HYPERPOD_CLI_COMMIT}|{eks_cluster_name}|{kubernetes_version}|{JOB_RBAC}".encode()
        ).hexdigest()[:10]
        handle = CfnWaitConditionHandle(self, f"Handle{fingerprint}")
        start = cr.AwsCustomResource(
            self,
            "StartInstall",
            on_update=cr.AwsSdkCall(
                service="CodeBuild",
                action="startBuild",
                parameters={
                    "projectName": self.project.project_name,
                    "environmentVariablesOverride": [
                        {"name": "WAIT_HANDLE_URL", "value": handle.ref, "type": "PLAINTEXT"}
                    ],
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"hyperpod-dependencies-{fingerprint}"),
                output_paths=["build.id"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["codebuild:StartBuild"], resources=[self.project.project_arn])]
            ),
            install_latest_aws_sdk=False,
            log_group=log_group,
        )
        start.node.add_dependency(admin)
        self.installed = CfnWaitCondition(
            self, f"Installed{fingerprint}", handle=handle.ref, count=1, timeout=str(INSTALL_TIMEOUT.to_seconds())
        )
        self.installed.node.add_dependency(start)
        aws_custom_resource_provider(Stack.of(self))
