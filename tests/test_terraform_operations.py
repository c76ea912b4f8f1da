"""Operations in each workspace's plan: the alarms and where they go, the deployments' rollback
wiring, ECS Exec and the wait for a steady state, as Terraform resolves them per workspace.

What is unknown until apply (the topic's ARN, the target groups' ARN suffixes) is checked through
the plan's `configuration` references here, and by value after apply in test_terraform_e2e.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SETTINGS

from local.emulated import planned_resources
from store2018.settings import ServiceOverrides

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("plans")]
WORKSPACES = sorted(SETTINGS.environments)
SERVICES = list(SETTINGS.services)
# Per service: alarm name suffix -> (namespace, metric, statistic, comparison, missing data).
SERVICE_ALARMS = {
    "5xx": ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", "GreaterThanOrEqualToThreshold", "notBreaching"),
    "unhealthy-hosts": ("AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "GreaterThanThreshold", "notBreaching"),
    "response-time": ("AWS/ApplicationELB", "TargetResponseTime", "p95", "GreaterThanThreshold", "notBreaching"),
    "running-tasks": ("ECS/ContainerInsights", "RunningTaskCount", "Minimum", "LessThanThreshold", "breaching"),
    "cpu": ("AWS/ECS", "CPUUtilization", "Average", "GreaterThanThreshold", "notBreaching"),
    "memory": ("AWS/ECS", "MemoryUtilization", "Average", "GreaterThanThreshold", "notBreaching"),
}
SITE_ALARMS = {
    "site-down": ("AWS/ApplicationELB", "HealthyHostCount", "Minimum", "LessThanThreshold", "breaching"),
    "load-balancer-5xx": ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", "GreaterThanOrEqualToThreshold",
                          "notBreaching"),
}  # fmt: skip


def alarms(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["values"]["alarm_name"]: r for r in planned_resources(plan, "aws_cloudwatch_metric_alarm")}


def configuration(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each resource's configuration (its expressions and their references), by address."""
    return {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}


def references(plan: dict[str, Any], address: str, attribute: str) -> list[str]:
    expression = configuration(plan)[address]["expressions"][attribute]
    found: list[str] = expression.get("references", [])
    return found


def thresholds(workspace: str, service: str) -> dict[str, float]:
    env = SETTINGS.environments[workspace]
    overrides = env.services.get(service, ServiceOverrides())
    given = overrides.alarms or SETTINGS.services[service].alarms
    tasks = overrides.tasks or env.tasks
    return {"5xx": given.target_5xx_per_minute, "unhealthy-hosts": 0, "response-time": given.response_time_ms / 1000,
            "running-tasks": tasks.minimum, "cpu": given.cpu_percent, "memory": given.memory_percent}  # fmt: skip


def only(found: list[str], prefix: str) -> str:
    """The one reference to a resource whose address starts with `prefix`, with its attribute."""
    (match,) = [f for f in found if f.startswith(prefix) and f.count(".") == 2]
    return match


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_every_failure_mode_has_an_alarm(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    planned = alarms(plans[workspace])
    expected: dict[str, tuple[str | None, str]] = {f"{workspace}-store2018-{service}-{kind}": (service, kind)
                for service in SERVICES for kind in SERVICE_ALARMS}  # fmt: skip
    expected |= {f"{workspace}-store2018-{kind}": (None, kind) for kind in SITE_ALARMS}
    assert sorted(planned) == sorted(expected)
    minutes = SETTINGS.environments[workspace].alerting.evaluation_minutes
    for name, (service, kind) in expected.items():
        values = planned[name]["values"]
        namespace, metric, statistic, comparison, missing = (SERVICE_ALARMS | SITE_ALARMS)[kind]
        shown = values["extended_statistic"] if statistic.startswith("p") else values["statistic"]
        assert (values["namespace"], values["metric_name"], shown) == (namespace, metric, statistic), name
        assert (values["comparison_operator"], values["treat_missing_data"]) == (comparison, missing), name
        assert (values["period"], values["evaluation_periods"], values["datapoints_to_alarm"]) == (60, minutes, minutes)
        if service is not None:
            assert values["threshold"] == thresholds(workspace, service)[kind], name
        assert len(values["alarm_description"]) > 60 and "Look first at" in values["alarm_description"], name


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_each_alarm_watches_its_own_service_and_tells_the_topic(
    plans: dict[str, dict[str, Any]], workspace: str
) -> None:
    plan = plans[workspace]
    (topic,) = planned_resources(plan, "aws_sns_topic")
    services = {r["values"]["name"]: r for r in planned_resources(plan, "aws_ecs_service")}
    for name, alarm in alarms(plan).items():
        address = alarm["address"]
        for actions in ("alarm_actions", "ok_actions"):
            assert only(references(plan, address, actions), "aws_sns_topic.") == f"{topic['address']}.arn", name
        dimensions = alarm["values"].get("dimensions", {})
        if alarm["values"]["namespace"] != "AWS/ApplicationELB":  # ECS: the service by its name, known at plan
            assert dimensions["ServiceName"] in services and name.startswith(dimensions["ServiceName"] + "-")
            continue
        found = references(plan, address, "dimensions")
        assert only(found, "aws_lb.").endswith(".arn_suffix"), name
        if name.endswith(("-site-down", "-load-balancer-5xx")):
            service = "store2018"  # the default route
        else:
            service = name.removeprefix(f"{workspace}-store2018-").split("-")[0]
        if not name.endswith("-load-balancer-5xx"):
            assert only(found, "aws_lb_target_group.").startswith(
                f"aws_lb_target_group.load_balancer_target_{service}_"
            )


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_each_deployment_rolls_back_on_its_alarms_or_its_circuit_breaker(
    plans: dict[str, dict[str, Any]], workspace: str
) -> None:
    plan = plans[workspace]
    env = SETTINGS.environments[workspace]
    planned = alarms(plan)
    for service in planned_resources(plan, "aws_ecs_service"):
        values, name = service["values"], service["values"]["name"]
        (block,) = values["alarms"]
        assert block == {"alarm_names": [f"{name}-5xx", f"{name}-unhealthy-hosts"], "enable": True, "rollback": True}
        assert all(alarm in planned for alarm in block["alarm_names"])
        assert values["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
        assert values["wait_for_steady_state"] is env.wait_for_steady_state
        assert values["enable_execute_command"] is env.ecs_exec


def statements(document: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_topic_can_deliver(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    """Encrypted with its own key, whose policy lets CloudWatch use it (not alias/aws/sns), and a topic
    policy that lets this account's alarms publish."""
    plan = plans[workspace]
    (topic,) = planned_resources(plan, "aws_sns_topic")
    assert topic["values"]["name"] == f"{workspace}-store2018-alarms"
    key_ref = only(references(plan, topic["address"], "kms_master_key_id"), "aws_kms_key.")
    key = next(r for r in planned_resources(plan, "aws_kms_key") if f"{r['address']}.arn" == key_ref)
    assert key["values"]["enable_key_rotation"] is True
    policy = statements(key["values"]["policy"])
    cloudwatch = policy["CloudWatchAlarmsEncryptMessages"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    (topic_policy,) = planned_resources(plan, "aws_sns_topic_policy")
    assert "policy" not in topic_policy.get("values", {})  # it names the topic's ARN: checked after apply (e2e)
    aliases = {a["values"]["name"] for a in planned_resources(plan, "aws_kms_alias")}
    assert aliases == {f"alias/{workspace}-store2018-alarms", f"alias/{workspace}-store2018-exec"}
    subscriptions = planned_resources(plan, "aws_sns_topic_subscription")
    assert len(subscriptions) == (SETTINGS.environments[workspace].alerting.email is not None)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_ecs_exec_only_where_the_workspace_turns_it_on(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    on = SETTINGS.environments[workspace].ecs_exec
    policies = [r for r in planned_resources(plan, "aws_iam_role_policy") if r["values"]["name"] == "exec"]
    assert len(policies) == (len(SERVICES) if on else 0)  # their statements: after apply (e2e)
    task_roles = {
        f"{r['address']}.id" for r in planned_resources(plan, "aws_iam_role") if r["values"]["name"].endswith("-task")
    }
    for policy in policies:
        assert only(references(plan, policy["address"].split("[")[0], "role"), "aws_iam_role.") in task_roles
    (cluster,) = planned_resources(plan, "aws_ecs_cluster")
    (execute,) = cluster["values"]["configuration"][0]["execute_command_configuration"]
    assert execute["logging"] == "OVERRIDE" and execute["log_configuration"][0]["cloud_watch_encryption_enabled"]
    assert execute["log_configuration"][0]["cloud_watch_log_group_name"] == f"/ecs/{workspace}-store2018/exec"
