"""`PipelineStack`: the stateless part: functions, state machine, trigger, notifications, alarms, dashboard."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from novacpt.catalog import BY_KEY
from stacks.cluster.training_cluster import TrainingCluster
from stacks.config import PipelineConfig
from stacks.pipeline.abort_cleanup import AbortCleanup
from stacks.pipeline.drop_trigger import DropTrigger
from stacks.pipeline.function import METRICS_NAMESPACE
from stacks.pipeline.functions import CLEAN_UP_ABORTED, TRIGGER, WATCH_CAPACITY, PipelineFunctions
from stacks.pipeline.monitoring import PipelineMonitoring, RunNotifications
from stacks.pipeline.release import ReleaseStateMachine
from stacks.pipeline.state_machine import RunStateMachine
from stacks.storage.access import BucketAccessPolicies
from stacks.storage.lease import CapacityLeaseTable

PIPELINE_STACK_ID: Final = "NovaCptPipeline"
OUTPUT_STATE_MACHINE: Final = "StateMachineArn"
OUTPUT_TOPIC: Final = "NotificationTopicArn"
OUTPUT_DASHBOARD_URL: Final = "DashboardUrl"
OUTPUT_CONSOLE_URL: Final = "StateMachineConsoleUrl"
_CONSOLE: Final = f"https://{Aws.REGION}.console.aws.amazon.com"
# Read by `cpt ... --stack` (novacpt_cli/cluster.py) to check recipes against the deployment.
OUTPUT_CLUSTER_MODEL: Final = "ClusterModel"
OUTPUT_MAX_REPLICAS: Final = "MaxReplicas"


class PipelineStack(Stack):
    """Everything that runs a CPT job; holds no data (the buckets and key come from StorageStack).

    The capacity and job steps drive `cluster` (app.py always passes the ClusterStack's); without one
    they run against the scripted fake cluster.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        access: BucketAccessPolicies,
        data_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        archive_bucket: s3.IBucket,
        lease: CapacityLeaseTable,
        cluster: TrainingCluster | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        notifications = RunNotifications(self, "Notifications", email=config.notification_email)
        functions = PipelineFunctions(
            self,
            "Functions",
            access=access,
            data_bucket=data_bucket,
            output_bucket=output_bucket,
            archive_bucket=archive_bucket,
            topic=notifications.topic,
            topic_key=notifications.key,
            log_retention=config.log_retention,
            poll_interval_seconds=config.poll_interval_seconds,
            max_poll_seconds=config.max_poll_hours * 3600,
            max_stuck_minutes=config.max_stuck_minutes,
            shard_bytes=config.validation_shard_gib << 30,
            budget_instance_hours=config.budget_instance_hours,
            price_per_instance_hour=config.price_per_instance_hour,
            max_capacity_wait_seconds=config.max_capacity_wait_minutes * 60,
            max_queue_seconds=config.max_queue_hours * 3600,
            max_release_seconds=config.max_release_hours * 3600,
            lease=lease,
            max_replicas=config.max_replicas,
            model_type=BY_KEY[config.model].model_type,
            quality_bounds={
                "max_near_duplicate_rate": config.max_near_duplicate_rate,
                "max_validation_overlap": config.max_validation_overlap,
                "max_mojibake_rate": config.max_mojibake_rate,
            },
            cluster=cluster,
        )
        run = RunStateMachine(
            self,
            "Run",
            functions=dict(functions.functions),
            log_retention=config.log_retention,
            max_poll_hours=config.max_poll_hours,
            max_capacity_wait_minutes=config.max_capacity_wait_minutes,
            max_queue_hours=config.max_queue_hours,
            shard_concurrency=config.validation_concurrency,
            log_key=functions.log_key,
        )
        self.state_machine = run.state_machine
        release = ReleaseStateMachine(
            self,
            "Release",
            scale_down=functions.functions["ScaleDown"],
            max_release_hours=config.max_release_hours,
            log_retention=config.log_retention,
            log_key=functions.log_key,
        )
        functions.connect_release(release.state_machine)
        functions.allow_queue_checks(run.state_machine)
        if WATCH_CAPACITY.name in functions.functions:
            events.Rule(
                self,
                "WatchCapacityEvery5Minutes",
                description="Measure the P5 instances no run owns (alarm), the lease and the queue (dashboard)",
                schedule=events.Schedule.rate(Duration.minutes(5)),
                targets=[targets.LambdaFunction(functions.functions[WATCH_CAPACITY.name], retry_attempts=0)],
            )
        if cluster is not None:
            AbortCleanup(
                self, "AbortCleanup", state_machine=run.state_machine, function=functions[CLEAN_UP_ABORTED].function
            )
        DropTrigger(
            self,
            "DropTrigger",
            data_bucket=data_bucket,
            trigger=functions[TRIGGER].function,
            state_machine=run.state_machine,
        )
        monitoring = PipelineMonitoring(
            self,
            "Monitoring",
            topic=notifications.topic,
            state_machine=run.state_machine,
            release_state_machine=release.state_machine,
            watch_function=WATCH_CAPACITY.name if WATCH_CAPACITY.name in functions.functions else None,
            metrics_namespace=METRICS_NAMESPACE,
            functions=functions.functions,
        )
        CfnOutput(
            self, OUTPUT_STATE_MACHINE, value=run.state_machine.state_machine_arn, description="Run state machine"
        )
        CfnOutput(self, OUTPUT_TOPIC, value=notifications.topic.topic_arn, description="Run notifications (SNS)")
        CfnOutput(
            self,
            OUTPUT_DASHBOARD_URL,
            value=f"{_CONSOLE}/cloudwatch/home?region={Aws.REGION}#dashboards:name={monitoring.dashboard.dashboard_name}",
            description="CloudWatch dashboard of the pipeline (runs, function errors and durations, alarms)",
        )
        CfnOutput(
            self,
            OUTPUT_CONSOLE_URL,
            value=f"{_CONSOLE}/states/home?region={Aws.REGION}#/statemachines/view/{run.state_machine.state_machine_arn}",
            description="The run state machine in the Step Functions console (executions, start a console run)",
        )
        CfnOutput(self, OUTPUT_CLUSTER_MODEL, value=config.model, description="Nova model the cluster trains")
        CfnOutput(
            self, OUTPUT_MAX_REPLICAS, value=str(config.max_replicas), description="Most P5 instances a run may use"
        )
