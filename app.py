#!/usr/bin/env python3
"""CDK app of the Nova CPT deployment: `cdk synth --app '.venv/bin/python app.py'`.

The only place that reads CDK context and environment variables. Synthesis makes no
AWS calls: it works without credentials or network. The stacks are environment-agnostic
unless the CDK CLI supplies CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (from the
caller's profile); the deployment's region is `nova-cpt:region` either way, and a known
CDK_DEFAULT_REGION must be the same.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk

from stacks.cluster.stack import CLUSTER_STACK_ID, ClusterStack
from stacks.config import ConfigError, DeploymentConfig
from stacks.pipeline.stack import PIPELINE_STACK_ID, PipelineStack
from stacks.shared.nag import add_nag_checks
from stacks.storage.stack import STORAGE_STACK_ID, StorageStack


def build_app(app: cdk.App) -> cdk.App:
    """Add every stack to `app` (configured from its context) and the cdk-nag checks."""
    config = DeploymentConfig.from_context(app.node.try_get_context, app.node.get_all_context().keys())
    config.check_environment(os.environ.get("CDK_DEFAULT_REGION"))
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    storage = StorageStack(
        app,
        STORAGE_STACK_ID,
        config=config,
        env=env,
        description="Nova CPT on HyperPod: KMS key and S3 buckets for datasets and training outputs",
    )
    cluster = ClusterStack(
        app,
        CLUSTER_STACK_ID,
        config=config,
        access=storage.access,
        env=env,
        description="Nova CPT on HyperPod: VPC, EKS and the HyperPod cluster with a P5 restricted instance group",
    )
    PipelineStack(
        app,
        PIPELINE_STACK_ID,
        config=config,
        access=storage.access,
        data_bucket=storage.data_bucket,
        output_bucket=storage.output_bucket,
        archive_bucket=storage.archive_bucket,
        lease=storage.lease,
        cluster=cluster.training_cluster,
        env=env,
        description="Nova CPT on HyperPod: validation and training pipeline (Step Functions, Lambda, alarms)",
    )
    cdk.Tags.of(app).add("project", "nova-cpt-hyperpod")
    add_nag_checks(app)
    return app


def main() -> int:
    app = cdk.App()
    try:
        build_app(app)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
