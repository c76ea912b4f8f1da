"""The per-service construct, asserted on the synthesised JSON for every catalog entry."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from conftest import SETTINGS, ref, resource_named, resources, settings_with, synth

from store2018.stack import container_environment

PER_SERVICE = {
    # resource type: construct ids inside one service
    "aws_cloudwatch_log_group": ["logs"],
    "aws_iam_role": ["execution_role", "task_role"],
    "aws_iam_role_policy": ["execution_policy", "exec_policy"],
    "aws_cloudwatch_metric_alarm": [
        "alarms_target_5xx",
        "alarms_unhealthy_hosts",
        "alarms_response_time",
        "alarms_running_tasks",
        "alarms_cpu",
        "alarms_memory",
    ],
    "aws_ecs_task_definition": ["task"],
    "aws_service_discovery_service": ["discovery"],
    "aws_ecs_service": ["service"],
    "aws_appautoscaling_target": ["scaling"],
    "aws_appautoscaling_policy": ["scale_on_cpu", "scale_on_requests"],
}


def test_every_service_has_its_own_set_of_resources(template: dict[str, Any]) -> None:
    for resource_type, ids in PER_SERVICE.items():
        per_service = [k for k in resources(template, resource_type) if k.startswith("service_")]
        assert len(per_service) == len(ids) * len(SETTINGS.services), resource_type
        for service in SETTINGS.services:
            for construct_id in ids:
                resource_named(template, resource_type, f"service_{service}_{construct_id}")


@pytest.mark.parametrize("service", list(SETTINGS.services))
def test_ecs_service_runs_privately_registered_and_attached(template: dict[str, Any], service: str) -> None:
    spec = SETTINGS.services[service]
    _, ecs = resource_named(template, "aws_ecs_service", f"service_{service}_service")
    task = resource_named(template, "aws_ecs_task_definition", f"service_{service}_task")[0]
    discovery = resource_named(template, "aws_service_discovery_service", f"service_{service}_discovery")[0]
    group = resource_named(template, "aws_lb_target_group", f"load_balancer_target_{service}")[0]
    private = sorted(ref("aws_subnet", k, "id") for k in resources(template, "aws_subnet") if "private" in k)
    tasks_sg = ref("aws_security_group", resource_named(template, "aws_security_group", "network_tasks_sg")[0], "id")

    assert ecs["name"] == f"${{local.workspace}}-store2018-{service}"
    assert ecs["task_definition"] == ref("aws_ecs_task_definition", task, "arn")
    assert ecs["desired_count"] == f"${{local.environment.services.{service}.min_tasks}}"
    assert ecs["network_configuration"] == {
        "subnets": private,
        "security_groups": [tasks_sg],
        "assign_public_ip": False,
    }
    assert ecs["service_registries"] == {"registry_arn": ref("aws_service_discovery_service", discovery, "arn")}
    assert ecs["load_balancer"] == [
        {"target_group_arn": ref("aws_lb_target_group", group, "arn"), "container_name": service, "container_port": 80}
    ]
    assert ecs["health_check_grace_period_seconds"] == 60
    assert ecs["deployment_circuit_breaker"] == {"enable": True, "rollback": True}
    assert (ecs["deployment_minimum_healthy_percent"], ecs["deployment_maximum_percent"]) == (100, 200)
    assert "launch_type" not in ecs
    assert ecs["capacity_provider_strategy"] == [
        {"capacity_provider": "FARGATE", "base": "${local.environment.capacity.fargate_base}",
         "weight": "${local.environment.capacity.fargate_weight}"},
        {"capacity_provider": "FARGATE_SPOT", "base": 0, "weight": "${local.environment.capacity.fargate_spot_weight}"},
    ]  # fmt: skip
    # Terraform leaves the desired count to the autoscaler, and nothing else.
    assert ecs["lifecycle"]["ignore_changes"] == ["desired_count"]  # the postcondition: below
    # Created after the listener (and its path rule) that routes to its target group.
    http = resource_named(template, "aws_lb_listener", "load_balancer_http")[0]
    assert f"aws_lb_listener.{http}" in ecs["depends_on"]
    if not spec.default_route:
        rule = resource_named(template, "aws_lb_listener_rule", f"load_balancer_rule_{service}")[0]
        assert f"aws_lb_listener_rule.{rule}" in ecs["depends_on"]
    assert sum(d.startswith("aws_lb_listener_rule.") for d in ecs["depends_on"]) == (0 if spec.default_route else 1)


def test_cloud_map_service_uses_a_records_ttl_10_multivalue(template: dict[str, Any]) -> None:
    namespace = resource_named(template, "aws_service_discovery_private_dns_namespace", "cluster_namespace")[0]
    names = set()
    for service, spec in SETTINGS.services.items():
        _, discovery = resource_named(template, "aws_service_discovery_service", f"service_{service}_discovery")
        names.add(discovery["name"])
        assert discovery["name"] == spec.discovery_name
        assert discovery["dns_config"] == {
            "namespace_id": ref("aws_service_discovery_private_dns_namespace", namespace, "id"),
            "routing_policy": "MULTIVALUE",
            "dns_records": [{"type": "A", "ttl": 10}],
        }
        # Explicit: an empty block is dropped from state and replaces the service on every plan.
        assert discovery["health_check_custom_config"] == {"failure_threshold": 1}
    assert names == {"api-account", "api-inventory", "api-shopping", "app-store2018"}


@pytest.mark.parametrize("service", list(SETTINGS.services))
def test_task_definition_is_fargate_sized_with_separate_roles(template: dict[str, Any], service: str) -> None:
    _, task = resource_named(template, "aws_ecs_task_definition", f"service_{service}_task")
    execution = resource_named(template, "aws_iam_role", f"service_{service}_execution_role")[0]
    task_role = resource_named(template, "aws_iam_role", f"service_{service}_task_role")[0]
    logs = resource_named(template, "aws_cloudwatch_log_group", f"service_{service}_logs")[0]
    assert task["family"] == f"${{local.workspace}}-store2018-{service}"
    assert (task["cpu"], task["memory"]) == ("256", "512")
    assert task["network_mode"] == "awsvpc" and task["requires_compatibilities"] == ["FARGATE"]
    assert task["execution_role_arn"] == ref("aws_iam_role", execution, "arn")
    assert task["task_role_arn"] == ref("aws_iam_role", task_role, "arn")
    # Built with jsonencode() from typed data; the plan tests decode and check it field by field.
    definitions = task["container_definitions"]
    assert definitions.startswith("${jsonencode([{")
    assert f"aws_cloudwatch_log_group.{logs}.name" in definitions
    assert f'"image" = local.environment.services.{service}.image,' in definitions


def test_log_groups_keep_logs_per_environment(template: dict[str, Any]) -> None:
    for service in SETTINGS.services:
        _, logs = resource_named(template, "aws_cloudwatch_log_group", f"service_{service}_logs")
        assert logs == {
            "name": f"/ecs/${{local.workspace}}-store2018/{service}",
            "retention_in_days": "${local.environment.log_retention_days}",
        }


def _policy_statements(template: dict[str, Any], service: str) -> list[dict[str, Any]]:
    _, policy = resource_named(template, "aws_iam_role_policy", f"service_{service}_execution_policy")
    document = policy["policy"].removeprefix("${data.aws_iam_policy_document.").removesuffix(".json}")
    statements: list[dict[str, Any]] = template["data"]["aws_iam_policy_document"][document]["statement"]
    return statements


@pytest.mark.parametrize("service", list(SETTINGS.services))
def test_execution_role_may_only_write_its_own_log_group(template: dict[str, Any], service: str) -> None:
    role = resource_named(template, "aws_iam_role", f"service_{service}_execution_role")[0]
    _, policy = resource_named(template, "aws_iam_role_policy", f"service_{service}_execution_policy")
    assert policy["role"] == ref("aws_iam_role", role, "id")
    logs = resource_named(template, "aws_cloudwatch_log_group", f"service_{service}_logs")[0]
    assert _policy_statements(template, service) == [
        {
            "sid": "WriteOwnLogGroup",
            "actions": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "resources": [f"${{aws_cloudwatch_log_group.{logs}.arn}}:log-stream:*"],
        }
    ]
    # No managed policies; no other policy on the execution role (the shipped catalog names no secret).
    assert "managed_policy_arns" not in resources(template, "aws_iam_role")[role]
    assert [p["name"] for p in resources(template, "aws_iam_role_policy").values() if p["role"] == policy["role"]] == [
        "pull-image-and-write-logs"
    ]


def test_ecr_images_add_only_repository_scoped_pulls() -> None:
    services = dict(SETTINGS.services)
    services["account"] = replace(
        SETTINGS.services["account"], image="123456789012.dkr.ecr.us-west-2.amazonaws.com/store/account"
    )
    template = json.loads(synth(settings_with(services=services)))
    statements = _policy_statements(template, "account")
    assert [(s["sid"], s["resources"]) for s in statements[1:]] == [
        ("EcrAuthorization", ["*"]),  # GetAuthorizationToken has no resource-level permissions
        ("PullOwnImage", ["arn:aws:ecr:us-west-2:123456789012:repository/store/account"]),
    ]
    assert statements[1]["actions"] == ["ecr:GetAuthorizationToken"]
    assert statements[2]["actions"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert len(_policy_statements(template, "inventory")) == 1


def test_service_roles_trust_only_ecs_tasks_of_this_account(template: dict[str, Any]) -> None:
    trust = template["data"]["aws_iam_policy_document"]["ecs_tasks_trust"]
    account = next(iter(template["data"]["aws_caller_identity"]))
    assert trust["statement"] == [
        {
            "actions": ["sts:AssumeRole"],
            "principals": [{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}],
            "condition": [
                {"test": "StringEquals", "variable": "aws:SourceAccount",
                 "values": [f"${{data.aws_caller_identity.{account}.account_id}}"]}
            ],
        }
    ]  # fmt: skip
    roles = {k: r for k, r in resources(template, "aws_iam_role").items() if k.startswith("service_")}
    assert len(roles) == 2 * len(SETTINGS.services)
    for role in roles.values():
        assert role["assume_role_policy"] == "${data.aws_iam_policy_document.ecs_tasks_trust.json}"


@pytest.mark.parametrize("service", list(SETTINGS.services))
def test_autoscaling_tracks_cpu_and_requests_within_the_workspace_bounds(
    template: dict[str, Any], service: str
) -> None:
    cluster = resource_named(template, "aws_ecs_cluster", "cluster")[0]
    ecs = resource_named(template, "aws_ecs_service", f"service_{service}_service")[0]
    scaling_address, scaling = resource_named(template, "aws_appautoscaling_target", f"service_{service}_scaling")
    assert scaling == {
        "service_namespace": "ecs",
        "scalable_dimension": "ecs:service:DesiredCount",
        "resource_id": f"service/${{aws_ecs_cluster.{cluster}.name}}/${{aws_ecs_service.{ecs}.name}}",
        "min_capacity": f"${{local.environment.services.{service}.min_tasks}}",
        "max_capacity": f"${{local.environment.services.{service}.max_tasks}}",
    }
    _, cpu = resource_named(template, "aws_appautoscaling_policy", f"service_{service}_scale_on_cpu")
    assert cpu["resource_id"] == ref("aws_appautoscaling_target", scaling_address, "resource_id")
    assert cpu["policy_type"] == "TargetTrackingScaling"
    tracking = cpu["target_tracking_scaling_policy_configuration"]
    assert tracking["target_value"] == 60
    assert tracking["predefined_metric_specification"] == {"predefined_metric_type": "ECSServiceAverageCPUUtilization"}

    alb = resource_named(template, "aws_lb", "load_balancer_alb")[0]
    group = resource_named(template, "aws_lb_target_group", f"load_balancer_target_{service}")[0]
    _, requests = resource_named(template, "aws_appautoscaling_policy", f"service_{service}_scale_on_requests")
    assert requests["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"] == {
        "predefined_metric_type": "ALBRequestCountPerTarget",
        "resource_label": f"${{aws_lb.{alb}.arn_suffix}}/${{aws_lb_target_group.{group}.arn_suffix}}",
    }


def test_front_end_variables_are_derived_from_the_catalog() -> None:
    assert container_environment(SETTINGS, "store2018") == {
        "ACCOUNT_SERVICE_API_BASE": "http://api-account.microservices.private/api",
        "INVENTORY_SERVICE_API_BASE": "http://api-inventory.microservices.private/api",
        "SHOPPING_SERVICE_API_BASE": "http://api-shopping.microservices.private/api",
    }
    services = dict(SETTINGS.services)
    services["account"] = replace(SETTINGS.services["account"], discovery_name="accounts", api_base_path="/v2")
    moved = settings_with(services=services, discovery_namespace="shop.internal")
    assert container_environment(moved, "store2018")["ACCOUNT_SERVICE_API_BASE"] == "http://accounts.shop.internal/v2"
    assert container_environment(moved, "account") == {}


@pytest.mark.parametrize("service", list(SETTINGS.services))
def test_an_apply_fails_when_ecs_rolled_the_deployment_back(template: dict[str, Any], service: str) -> None:
    """A rolled-back deployment is steady too (the provider's wait passes): the postcondition compares the
    task definition the service runs after the apply with the one the apply registered."""
    _, ecs = resource_named(template, "aws_ecs_service", f"service_{service}_service")
    task = resource_named(template, "aws_ecs_task_definition", f"service_{service}_task")[0]
    (postcondition,) = ecs["lifecycle"]["postcondition"]
    assert postcondition["condition"] == f"${{self.task_definition == aws_ecs_task_definition.{task}.arn}}"
    assert "rolled the deployment back" in postcondition["error_message"]
    assert ecs["wait_for_steady_state"] == "${local.environment.wait_for_steady_state}"
