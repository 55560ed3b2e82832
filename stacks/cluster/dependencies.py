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

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnWaitCondition,
    CfnWaitConditionHandle,
    Duration,
    RemovalPolicy,
    SecretValue,
    Stack,
)
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from constructs import Construct

from novacpt.jobs.manifests import DEFAULT_NAMESPACE
from stacks.cluster.eks import CLUSTER_ADMIN_POLICY, eks_cluster_arn
from stacks.cluster.installer_tools import HELM, YQ
from stacks.shared.deploy_functions import aws_custom_resource_provider
from stacks.shared.nag import acknowledge, acknowledge_wildcard_resources, skip_checkov

HYPERPOD_CLI_REPOSITORY: Final = "aws/sagemaker-hyperpod-cli"
# Head of its release_v2 branch (2026-04-14): the branch whose helm_chart/ holds install_rig_dependencies.sh.
HYPERPOD_CLI_COMMIT: Final = "abcdc77b3e4ca160874021c6615baf0dbb96c69b"
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
- {{apiGroups: [""], resources: [pods], verbs: [get, list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: {JOB_GROUP}, namespace: {JOB_NAMESPACE}}}
subjects: [{{kind: Group, name: {JOB_GROUP}, apiGroup: rbac.authorization.k8s.io}}]
roleRef: {{kind: Role, name: {JOB_GROUP}, apiGroup: rbac.authorization.k8s.io}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: {JOB_GROUP}-preflight}}
rules:
- {{apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [get]}}
- {{apiGroups: [apps], resources: [deployments, daemonsets], verbs: [list]}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {JOB_GROUP}-preflight}}
subjects: [{{kind: Group, name: {JOB_GROUP}, apiGroup: rbac.authorization.k8s.io}}]
roleRef: {{kind: ClusterRole, name: {JOB_GROUP}-preflight, apiGroup: rbac.authorization.k8s.io}}
"""

_BUILD_COMMANDS: Final = [
    'mkdir -p "$HOME/bin" && export PATH="$HOME/bin:$PATH"',
    HELM.download(),
    'tar -xzf helm.tgz && install linux-amd64/helm "$HOME/bin/helm"',
    # kubectl must match the cluster's Kubernetes version: checked against the release's published checksum.
    'curl -fsSL -o kubectl "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl"',
    'echo "$(curl -fsSL "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/amd64/kubectl.sha256")  kubectl"'
    " | sha256sum -c -",
    'install kubectl "$HOME/bin/kubectl"',
    YQ.download(),
    'install yq "$HOME/bin/yq"',
    # A commit fetched by its hash is what it names: git checks the content against the hash.
    'git init -q "sagemaker-hyperpod-cli-$HYPERPOD_CLI_COMMIT"',
    'cd "sagemaker-hyperpod-cli-$HYPERPOD_CLI_COMMIT"',
    'git fetch -q --depth 1 "https://github.com/$HYPERPOD_CLI_REPOSITORY.git" "$HYPERPOD_CLI_COMMIT"',
    'git checkout -q FETCH_HEAD && test "$(git rev-parse HEAD)" = "$HYPERPOD_CLI_COMMIT"',
    'aws eks update-kubeconfig --name "$EKS_CLUSTER" --region "$AWS_REGION"',
    "cd helm_chart",
    "helm dependency update HyperPodHelmChart",
    # The health-monitoring agent's image is regional: without its region the chart uses us-east-1's.
    f"helm upgrade --install {STANDARD_RELEASE} HyperPodHelmChart --namespace kube-system "
    '--set health-monitoring-agent.region="$AWS_REGION"',
    f"if helm status {RIG_RELEASE} --namespace kube-system > /dev/null 2>&1; "
    'then echo "RIG dependencies already installed"; '
    "else yes y | bash install_rig_dependencies.sh; fi",
    f"kubectl create namespace {JOB_NAMESPACE} --dry-run=client -o yaml | kubectl apply -f -",
    'printf "%s" "$JOB_RBAC" | kubectl apply -f -',
]
# Tell CloudFormation how the build ended. The wait condition's presigned URL comes from a Secrets Manager
# secret: CodeBuild masks it in the build's logs, and neither the project, the build's recorded environment
# nor the custom resource that starts the build (or its logs) shows it.
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
        self._log_group = log_group
        fingerprint = hashlib.sha256(
            f"{HYPERPOD_CLI_COMMIT}|{eks_cluster_name}|{kubernetes_version}|{JOB_RBAC}".encode()
        ).hexdigest()[:10]
        handle = CfnWaitConditionHandle(self, f"Handle{fingerprint}")
        signal_url = secretsmanager.Secret(
            self,
            f"SignalUrl{fingerprint}",
            description="Presigned URL the HyperPod dependencies installer reports its outcome to",
            secret_string_value=SecretValue.unsafe_plain_text(handle.ref),  # a reference: no URL in the template
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        no_rotation = (
            "The presigned URL of one CloudFormation wait condition: it cannot be rotated, and it is replaced "
            "(with its wait condition) by every new installation."
        )
        acknowledge(signal_url, "AwsSolutions-SMG4", no_rotation)
        skip_checkov(signal_url, "CKV2_AWS_57", no_rotation)
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
                **{
                    name: codebuild.BuildEnvironmentVariable(value=value)
                    for name, value in {
                        "EKS_CLUSTER": eks_cluster_name,
                        "HYPERPOD_CLI_REPOSITORY": HYPERPOD_CLI_REPOSITORY,
                        "HYPERPOD_CLI_COMMIT": HYPERPOD_CLI_COMMIT,
                        "KUBECTL_VERSION": f"v{kubernetes_version}.0",
                        "JOB_RBAC": JOB_RBAC,
                    }.items()
                },
                "WAIT_HANDLE_URL": codebuild.BuildEnvironmentVariable(
                    value=signal_url.secret_arn, type=codebuild.BuildEnvironmentVariableType.SECRETS_MANAGER
                ),
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

        admin = self._installer_access(eks_cluster_name, role, fingerprint)
        start = cr.AwsCustomResource(
            self,
            "StartInstall",
            on_update=cr.AwsSdkCall(
                service="CodeBuild",
                action="startBuild",
                parameters={"projectName": self.project.project_name},
                physical_resource_id=cr.PhysicalResourceId.of(f"hyperpod-dependencies-{fingerprint}"),
                output_paths=["build.id"],
                logging=cr.Logging.with_data_hidden(),
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
        # Once the charts are installed, the installer's cluster-admin access ends (its entry is deleted).
        revoke = self._access_call(
            "RevokeInstallerAccess",
            "deleteAccessEntry",
            eks_cluster_name,
            role,
            f"installer-access-ended-{fingerprint}",
        )
        revoke.node.add_dependency(self.installed)
        aws_custom_resource_provider(stack)

    def _installer_access(self, cluster_name: str, role: iam.IRole, fingerprint: str) -> Construct:
        """Cluster-admin for the installer's role, only for the installation: created before each build.

        Its entry is deleted once the installation ends (RevokeInstallerAccess), and when a failed
        installation is rolled back (on_delete).
        """
        entry = self._access_call(
            "GrantInstallerAccess", "createAccessEntry", cluster_name, role, f"installer-access-{fingerprint}"
        )
        admin = self._access_call(
            "InstallerClusterAdmin", "associateAccessPolicy", cluster_name, role, f"installer-admin-{fingerprint}"
        )
        admin.node.add_dependency(entry)
        return admin

    def _access_call(self, id_: str, action: str, cluster_name: str, role: iam.IRole, physical_id: str) -> Construct:
        """A custom resource making one EKS access-entry call for the installer's role."""
        stack = Stack.of(self)
        principal = {"clusterName": cluster_name, "principalArn": role.role_arn}
        parameters: dict[str, object] = dict(principal)
        if action == "createAccessEntry":
            parameters["type"] = "STANDARD"
        if action == "associateAccessPolicy":
            parameters["policyArn"] = f"arn:{stack.partition}:eks::aws:cluster-access-policy/{CLUSTER_ADMIN_POLICY}"
            parameters["accessScope"] = {"type": "cluster"}
        delete = cr.AwsSdkCall(
            service="EKS",
            action="deleteAccessEntry",
            parameters=principal,
            ignore_error_codes_matching="ResourceNotFoundException",
            logging=cr.Logging.with_data_hidden(),
        )
        entries = stack.format_arn(
            service="eks",
            resource="access-entry",
            resource_name=f"{cluster_name}/role/{stack.account}/{role.role_name}/*",
        )
        call = cr.AwsCustomResource(
            self,
            id_,
            on_update=cr.AwsSdkCall(
                service="EKS",
                action=action,
                parameters=parameters,
                physical_resource_id=cr.PhysicalResourceId.of(physical_id),
                ignore_error_codes_matching="ResourceInUseException|ResourceNotFoundException",
                logging=cr.Logging.with_data_hidden(),
            ),
            on_delete=delete if action == "createAccessEntry" else None,
            log_group=self._log_group,  # the provider's logs, encrypted with the project key
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["eks:CreateAccessEntry", "eks:AssociateAccessPolicy", "eks:DeleteAccessEntry"],
                        resources=[eks_cluster_arn(self, cluster_name), entries],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge_wildcard_resources(
            call,
            [entries],
            "An EKS access entry's ARN ends in an ID EKS assigns when it creates it: '/*' covers only the entries "
            "of the installer's own role on this one cluster.",
        )
        return call
