"""What tells the on-call engineer: one alarm topic per workspace, alarms per service and for the
whole site, and a dashboard.

The topic is encrypted with a customer-managed key whose policy lets CloudWatch use it: with the
AWS-managed `alias/aws/sns` key, CloudWatch cannot encrypt its messages and alarms deliver nothing
(every scanner, and the emulator, would still pass). Alarms are named with the naming helper, not
from the ECS service's `name` attribute: each service lists its deployment alarms in its own
`alarms` block, and reading its name back would be a dependency cycle. Every alarm watches
one-minute periods and fires after `Alerting.evaluation_minutes` of them in a row breach; what a
period without data means is chosen per alarm (`MissingData`).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cdktf import Fn, Op, Token
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from store2018.expressions import count_if, named_local
from store2018.keys import ServiceKey, account_root
from store2018.workspace import ServiceValues, WorkspaceSelection

PERIOD_SECONDS = 60
ELB = "AWS/ApplicationELB"
ECS = "AWS/ECS"
INSIGHTS = "ECS/ContainerInsights"  # the cluster has Container Insights on (cluster.py)


def percentile_statistic(percentile: int) -> str:
    """CloudWatch's extended statistic for a percentile (`p95`), as an expression: inside the dashboard's
    jsonencode a `p${...}` template would lose its interpolation."""
    return Token.as_string(Fn.format("p%d", [percentile]))


class MissingData(enum.Enum):
    """What a minute without a data point means, chosen per alarm."""

    #: Nothing happened: no request, so no 5xx and no response time; no task, so no CPU (the
    #: running-tasks alarm covers that).
    NOT_BREACHING = "notBreaching"
    #: Nothing reported is itself the failure: no healthy host, no running task.
    BREACHING = "breaching"


def ecs_dimensions(cluster_name: str, service_name: str) -> dict[str, str]:
    """An ECS service's CloudWatch dimensions (AWS/ECS and Container Insights)."""
    return {"ClusterName": cluster_name, "ServiceName": service_name}


@dataclass(frozen=True, kw_only=True)
class LoadBalancerDimensions:
    """The CloudWatch dimensions of a target group behind the load balancer (both `arn_suffix`es)."""

    load_balancer: str
    target_group: str

    def as_dimensions(self) -> dict[str, str]:
        return {"LoadBalancer": self.load_balancer, "TargetGroup": self.target_group}


class AlarmTopic(Construct):
    """The workspace's alarm topic, its key and its policy, and the optional e-mail subscription.

    Exposes `topic_arn`."""

    def __init__(
        self, scope: Construct, construct_id: str, *, workspace: WorkspaceSelection, account_id: str, region: str
    ) -> None:
        super().__init__(scope, construct_id)
        name = workspace.resource_name
        # CloudWatch encrypts each alarm message with the topic's key before SNS stores it. As in AWS's
        # documented statement, no condition: one CloudWatch may not send would drop every notification.
        # The topic policy below holds CloudWatch to this account's alarms.
        key = ServiceKey(
            self,
            "key",
            description="Encrypts the alarm topic; its policy lets CloudWatch alarms publish",
            alias=f"alias/{name('alarms')}",
            account_id=account_id,
            sid="CloudWatchAlarmsEncryptMessages",
            service="cloudwatch.amazonaws.com",
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
        )
        topic = SnsTopic(self, "topic", name=name("alarms"), kms_master_key_id=key.arn)
        topic_policy = DataAwsIamPolicyDocument(
            self,
            "topic_policy",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="AccountManagesTheTopic",
                    actions=[
                        "sns:GetTopicAttributes",
                        "sns:SetTopicAttributes",
                        "sns:Subscribe",
                        "sns:ListSubscriptionsByTopic",
                        "sns:Publish",
                    ],
                    resources=[topic.arn],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(type="AWS", identifiers=[account_root(account_id)])
                    ],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid="CloudWatchAlarmsPublish",
                    actions=["sns:Publish"],
                    resources=[topic.arn],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Service", identifiers=["cloudwatch.amazonaws.com"]
                        )
                    ],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="StringEquals", variable="aws:SourceAccount", values=[account_id]
                        ),
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="ArnLike",
                            variable="aws:SourceArn",
                            values=[f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"],
                        ),
                    ],
                ),
            ],
        )
        SnsTopicPolicy(self, "topic_policy_attachment", arn=topic.arn, policy=topic_policy.json)
        SnsTopicSubscription(
            self,
            "email",
            count=count_if(workspace.current.alarm_email_enabled),
            topic_arn=topic.arn,
            protocol="email",
            endpoint=workspace.current.alarm_email,
        )
        self.topic_arn: str = topic.arn


class Alarms:
    """Makes the workspace's metric alarms, all alike: one-minute periods, the workspace's evaluation
    minutes, the topic told on ALARM and on OK."""

    def __init__(self, *, workspace: WorkspaceSelection, topic_arn: str) -> None:
        self._workspace = workspace
        self._topic_arn = topic_arn

    def alarm(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        statistic: str | None = None,
        percentile: int | None = None,
        comparison: str,
        threshold: Any,
        missing: MissingData,
    ) -> CloudwatchMetricAlarm:
        """One alarm on a `statistic` (Sum, Average, ...) or a `percentile` of the metric."""
        minutes = self._workspace.current.alarm_minutes
        return CloudwatchMetricAlarm(
            scope,
            construct_id,
            alarm_name=name,
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dict(dimensions),
            statistic=statistic,
            extended_statistic=None if percentile is None else percentile_statistic(percentile),
            period=PERIOD_SECONDS,
            evaluation_periods=minutes,
            datapoints_to_alarm=minutes,
            comparison_operator=comparison,
            threshold=threshold,
            treat_missing_data=missing.value,
            alarm_actions=[self._topic_arn],
            ok_actions=[self._topic_arn],
        )


class ServiceAlarms(Construct):
    """One service's alarms. Exposes `rollback` (the alarms its deployments roll back on) and `all`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        values: ServiceValues,
        alarms: Alarms,
        service_name: str,
        cluster_name: str,
        log_group: str,
        target: LoadBalancerDimensions | None,
    ) -> None:
        super().__init__(scope, construct_id)
        make = functools.partial(alarms.alarm, self)
        name = f"{service_name}-"
        ecs = ecs_dimensions(cluster_name, service_name)
        self.all: dict[str, CloudwatchMetricAlarm] = {}
        if target is not None:
            dimensions = target.as_dimensions()
            self.all["target_5xx"] = make(
                "target_5xx", name=name + "5xx", namespace=ELB, metric="HTTPCode_Target_5XX_Count",
                dimensions=dimensions, statistic="Sum", comparison="GreaterThanOrEqualToThreshold",
                threshold=values.target_5xx_per_minute, missing=MissingData.NOT_BREACHING,
                description=f"{service}'s tasks answer 5xx. Rolls a deployment in progress back. Look first at the "
                f"service's log group ({log_group}) and at what changed last: the task definition revision, "
                "the alarms of the services it calls.",
            )  # fmt: skip
            self.all["unhealthy_hosts"] = make(
                "unhealthy_hosts", name=name + "unhealthy-hosts", namespace=ELB, metric="UnHealthyHostCount",
                dimensions=dimensions, statistic="Maximum", comparison="GreaterThanThreshold", threshold=0,
                missing=MissingData.NOT_BREACHING,
                description=f"{service} has tasks failing the load balancer's health check. Rolls a deployment in "
                "progress back. Look first at the ECS service's events (stopped tasks and why) and the "
                "health-check path's answer in the service's logs.",
            )  # fmt: skip
            self.all["response_time"] = make(
                "response_time", name=name + "response-time", namespace=ELB, metric="TargetResponseTime",
                dimensions=dimensions, percentile=values.response_time_percentile,
                comparison="GreaterThanThreshold", threshold=Op.div(values.response_time_ms, 1000),
                missing=MissingData.NOT_BREACHING,
                description=f"{service} answers slowly at the watched percentile. Look first at the CPU and memory "
                "alarms, the running task count, and the services it calls.",
            )  # fmt: skip
        self.all["running_tasks"] = make(
            "running_tasks", name=name + "running-tasks", namespace=INSIGHTS, metric="RunningTaskCount",
            dimensions=ecs, statistic="Minimum", comparison="LessThanThreshold", threshold=values.min_tasks,
            missing=MissingData.BREACHING,
            description=f"{service} runs fewer tasks than its minimum (nothing reported counts as none). Look "
            "first at the ECS service's events: tasks stopping (exit code, out of memory), failing health "
            "checks, or not placed (capacity, subnets, image pull).",
        )  # fmt: skip
        self.all["cpu"] = make(
            "cpu", name=name + "cpu", namespace=ECS, metric="CPUUtilization", dimensions=ecs,
            statistic="Average", comparison="GreaterThanThreshold", threshold=values.cpu_alarm_percent,
            missing=MissingData.NOT_BREACHING,
            description=f"{service}'s tasks are short of CPU. Look first at whether autoscaling reached its "
            "maximum task count, then at the request rate.",
        )  # fmt: skip
        self.all["memory"] = make(
            "memory", name=name + "memory", namespace=ECS, metric="MemoryUtilization", dimensions=ecs,
            statistic="Average", comparison="GreaterThanThreshold", threshold=values.memory_alarm_percent,
            missing=MissingData.NOT_BREACHING,
            description=f"{service}'s tasks use most of their memory; Fargate stops a task that exceeds it. Look "
            "first at stopped tasks (OutOfMemory) and at memory growth since the last deployment.",
        )  # fmt: skip
        # A service behind the load balancer rolls back on its 5xx and unhealthy hosts; a private one on
        # its running tasks (the circuit breaker covers tasks that never start, in both).
        rollback = ("target_5xx", "unhealthy_hosts") if target is not None else ("running_tasks",)
        self.rollback: list[CloudwatchMetricAlarm] = [self.all[key] for key in rollback]


class SiteAlarms(Construct):
    """The whole site is down: no healthy host behind the default route, or the load balancer answers
    5xx itself (503 when every target is unhealthy: the targets' own 5xx then stay at zero)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, workspace: WorkspaceSelection, alarms: Alarms,
        front_end: LoadBalancerDimensions,
    ) -> None:  # fmt: skip
        super().__init__(scope, construct_id)
        name = workspace.resource_name
        alarms.alarm(
            self,
            "no_healthy_host", name=name("site-down"), namespace=ELB, metric="HealthyHostCount",
            dimensions=front_end.as_dimensions(), statistic="Minimum", comparison="LessThanThreshold", threshold=1,
            missing=MissingData.BREACHING,
            description="Site down: no healthy task behind the load balancer's default route (the front end); "
            "nothing reported counts as none. Look first at the front end's ECS events and running-tasks "
            "alarm, then at its target group's health checks.",
        )  # fmt: skip
        alarms.alarm(
            self,
            "load_balancer_5xx", name=name("load-balancer-5xx"), namespace=ELB, metric="HTTPCode_ELB_5XX_Count",
            dimensions={"LoadBalancer": front_end.load_balancer}, statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold", threshold=workspace.current.load_balancer_5xx_per_minute,
            missing=MissingData.NOT_BREACHING,
            description="The load balancer answers 5xx itself: 503 when a target group has no healthy target, "
            "502/504 when targets reset or time out. Look first at the services' unhealthy-hosts alarms.",
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One line of a dashboard graph."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    stat: str
    label: str

    def as_json(self) -> list[Any]:
        dimensions = [part for key, value in self.dimensions.items() for part in (key, value)]
        return [self.namespace, self.name, *dimensions, {"stat": self.stat, "label": self.label}]


@dataclass(frozen=True, kw_only=True)
class Graph:
    """A dashboard widget: a time series of one or more metrics."""

    title: str
    metrics: Sequence[Metric]
    width: int = 6
    height: int = 6
    y_axis: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self, *, x: int, y: int, region: str) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": self.title,
            "region": region,
            "view": "timeSeries",
            "stacked": False,
            "period": PERIOD_SECONDS,
            "metrics": [metric.as_json() for metric in self.metrics],
        }
        if self.y_axis:
            properties["yAxis"] = dict(self.y_axis)
        return {"type": "metric", "x": x, "y": y, "width": self.width, "height": self.height,
                "properties": properties}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class DashboardService:
    """What the dashboard shows of one service."""

    service: str
    service_name: str
    response_time_stat: str
    target: LoadBalancerDimensions | None


def service_graphs(entry: DashboardService, cluster_name: str) -> list[Graph]:
    ecs = ecs_dimensions(cluster_name, entry.service_name)
    graphs = []
    if entry.target is not None:
        target = entry.target.as_dimensions()
        graphs += [
            Graph(title=f"{entry.service}: requests and 5xx", metrics=[
                Metric(namespace=ELB, name="RequestCount", dimensions=target, stat="Sum", label="requests"),
                Metric(namespace=ELB, name="HTTPCode_Target_5XX_Count", dimensions=target, stat="Sum", label="5xx"),
            ]),
            Graph(title=f"{entry.service}: response time (s)", metrics=[
                Metric(namespace=ELB, name="TargetResponseTime", dimensions=target, stat=entry.response_time_stat,
                       label=entry.response_time_stat),
            ]),
        ]  # fmt: skip
    graphs += [
        Graph(title=f"{entry.service}: running and desired tasks", metrics=[
            Metric(namespace=INSIGHTS, name="RunningTaskCount", dimensions=ecs, stat="Minimum", label="running"),
            Metric(namespace=INSIGHTS, name="DesiredTaskCount", dimensions=ecs, stat="Maximum", label="desired"),
        ]),
        Graph(title=f"{entry.service}: CPU and memory (%)", y_axis={"left": {"min": 0, "max": 100}}, metrics=[
            Metric(namespace=ECS, name="CPUUtilization", dimensions=ecs, stat="Average", label="CPU"),
            Metric(namespace=ECS, name="MemoryUtilization", dimensions=ecs, stat="Average", label="memory"),
        ]),
    ]  # fmt: skip
    return graphs


class Dashboard(Construct):
    """The workspace's CloudWatch dashboard: the load balancer on the first row, then a row per service.
    Exposes `url`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workspace: WorkspaceSelection,
        region: str,
        cluster_name: str,
        load_balancer: str,
        services: Sequence[DashboardService],
    ) -> None:
        super().__init__(scope, construct_id)
        # The body names each dimension through one local: the resources are referenced once each, in it.
        dimensions = named_local(
            self,
            "dashboard_dimensions",
            {
                "load_balancer": load_balancer,
                "cluster": cluster_name,
                "target_groups": {e.service: e.target.target_group for e in services if e.target is not None},
                "services": {e.service: e.service_name for e in services},
            },
        )

        def dimension(*path: str) -> str:
            found: Any = dimensions.as_any_map
            for key in path:
                found = Fn.lookup(found, key)
            return Token.as_string(found)

        load_balancer = dimension("load_balancer")
        cluster_name = dimension("cluster")
        services = [
            replace(
                entry,
                service_name=dimension("services", entry.service),
                target=(
                    LoadBalancerDimensions(
                        load_balancer=load_balancer, target_group=dimension("target_groups", entry.service)
                    )
                    if entry.target is not None
                    else None
                ),
            )
            for entry in services
        ]
        exposed = [entry for entry in services if entry.target is not None]
        rows = [
            [
                Graph(title="Load balancer: requests and its own 5xx", width=12, metrics=[
                    Metric(namespace=ELB, name="RequestCount", dimensions={"LoadBalancer": load_balancer},
                           stat="Sum", label="requests"),
                    Metric(namespace=ELB, name="HTTPCode_ELB_5XX_Count", dimensions={"LoadBalancer": load_balancer},
                           stat="Sum", label="load balancer 5xx"),
                ]),
                Graph(title="Load balancer: healthy hosts per service", width=12, metrics=[
                    Metric(namespace=ELB, name="HealthyHostCount", dimensions=entry.target.as_dimensions(),
                           stat="Minimum", label=entry.service)
                    for entry in exposed if entry.target is not None
                ]),
            ],
            *(service_graphs(entry, cluster_name) for entry in services),
        ]  # fmt: skip
        widgets = []
        for row, graphs in enumerate(rows):
            x = 0
            for graph in graphs:
                widgets.append(graph.as_json(x=x, y=row * 6, region=region))
                x += graph.width
        dashboard = CloudwatchDashboard(
            self,
            "dashboard",
            dashboard_name=workspace.resource_name(),
            dashboard_body=Fn.jsonencode({"widgets": widgets}),
        )
        self.url: str = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{dashboard.dashboard_name}"
        )
