"""Notifications, alarms and a dashboard for the pipeline."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class RunNotifications(Construct):
    """The SNS topic every run outcome and alarm goes to (KMS-encrypted, TLS only)."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        # CloudWatch alarms can publish to an encrypted topic only with a customer managed key
        # whose policy lets CloudWatch use it.
        self.key = kms.Key(
            self,
            "TopicKey",
            enable_key_rotation=True,
            description="Encrypts the Nova CPT notification topic",
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Only for alarms of this account and region (no confused deputy: another account's alarm cannot use it).
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch", resource="alarm", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        self.key.grant(
            iam.ServicePrincipal(
                "cloudwatch.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": alarms}},
            ),
            "kms:Decrypt",
            "kms:GenerateDataKey",
        )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True, display_name="Nova CPT runs")
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class PipelineMonitoring(Construct):
    """Alarms on failed, timed-out and throttled executions and on Lambda errors, plus a dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        state_machine: sfn.StateMachine,
        functions: dict[str, lambda_.Function],
        release_state_machine: sfn.StateMachine | None = None,
        watch_function: str | None = None,
        metrics_namespace: str = "NovaCpt",
    ) -> None:
        super().__init__(scope, construct_id)
        action = actions.SnsAction(topic)
        period = Duration.minutes(5)
        execution_metrics = {
            "ExecutionsFailed": state_machine.metric_failed(period=period),
            "ExecutionsTimedOut": state_machine.metric_timed_out(period=period),
            "ExecutionThrottled": state_machine.metric_throttled(period=period),
        }
        self.alarms: list[cloudwatch.Alarm] = []
        for name, metric in execution_metrics.items():
            self._alarm(name, metric, f"Nova CPT pipeline: {name} >= 1 in 5 minutes", action)
        capacity_widgets: list[cloudwatch.IWidget] = []
        if release_state_machine is not None:
            # The release workflow gave up (ReleaseStuck), timed out or was aborted by hand: instances may still
            # be running, and the lease (still held, releasing) keeps every other run waiting.
            release_failures = cloudwatch.MathExpression(
                expression="failed + timedout + aborted",
                using_metrics={
                    "failed": release_state_machine.metric_failed(period=period),
                    "timedout": release_state_machine.metric_timed_out(period=period),
                    "aborted": release_state_machine.metric_aborted(period=period),
                },
                label="Releases that gave up",
                period=period,
            )
            self._alarm(
                "ReleaseFailed",
                release_failures,
                "Nova CPT: a release workflow could not bring the P5 instance group back to rest: instances may still "
                "be running and billed (README: 'A group without an owner')",
                action,
            )
            capacity_widgets.append(
                cloudwatch.GraphWidget(
                    title="Releases",
                    left=[
                        release_state_machine.metric_started(period=period),
                        release_state_machine.metric_succeeded(period=period),
                        release_failures,
                    ],
                    width=12,
                )
            )
        if watch_function is not None:
            ownership = {
                name: cloudwatch.Metric(
                    namespace=metrics_namespace,
                    metric_name=name,
                    dimensions_map={"service": watch_function},
                    statistic="Maximum",
                    period=period,
                )
                for name in ("UnownedInstances", "LeaseHeld", "QueuedRuns")
            }
            self._alarm(
                "UnownedInstances",
                ownership["UnownedInstances"],
                "Nova CPT: the P5 instance group holds instances while no run owns its lease: they are billed and "
                "nothing will release them (README: 'A group without an owner')",
                action,
                periods=2,
            )
            capacity_widgets.append(
                cloudwatch.GraphWidget(
                    title="Cluster ownership (instances without an owner, lease held, runs in line)",
                    left=list(ownership.values()),
                    width=12,
                )
            )
        for name, function in functions.items():
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=period),
                f"Nova CPT pipeline: the {name} function failed (see its log group)",
                action,
            )
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard")
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Runs",
                left=[
                    state_machine.metric_started(period=period),
                    state_machine.metric_succeeded(period=period),
                    *execution_metrics.values(),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[f.metric_errors(period=period, label=n) for n, f in functions.items()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p99)",
                left=[f.metric_duration(period=period, statistic="p99", label=n) for n, f in functions.items()],
                width=12,
            ),
            *capacity_widgets,
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )

    def _alarm(
        self, name: str, metric: cloudwatch.IMetric, description: str, action: actions.SnsAction, periods: int = 1
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            name,
            metric=metric,
            threshold=1,
            evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(action)
        self.alarms.append(alarm)
