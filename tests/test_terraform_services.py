"""The services in each workspace's plan: real Terraform and the AWS provider against moto.

What varies per workspace is an expression in the synthesis, so it is checked here, on the
plans. Container definitions are decoded from the plan and validated against the ECS API's
own request model (botocore's `RegisterTaskDefinition` input shape).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from conftest import SETTINGS, settings_with

from local.emulated import MotoServer, TerraformWorkdir, planned_resources
from store2018.app import STACK_NAME, build_app
from store2018.releases import image_reference
from store2018.settings import EnvironmentSettings, ServiceOverrides, TaskCount
from store2018.stack import container_environment

# One worker per group (`--dist loadgroup`): its tests share the session and module fixtures.
pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("plans")]

WORKSPACES = sorted(SETTINGS.environments)
# The shipped table, pinned: (task bounds, ALB deletion protection, log and flow log retention days).
SHIPPED = {"prod": ((2, 6), True, 30, 90), "staging": ((2, 3), False, 7, 7)}
CERTIFICATE = "arn:aws:acm:us-west-2:123456789012:certificate/0f3c1e2a-1b2c-4d5e-8f90-123456789abc"
ZONE = "Z0123456789ABCDEFGHIJ"
PINNED_ZONES = ("usw2-az1", "usw2-az2")  # the emulator names them us-west-2b and us-west-2a


def by_name(plan: dict[str, Any], resource_type: str, key: str = "name") -> dict[str, dict[str, Any]]:
    return {r["values"][key]: r["values"] for r in planned_resources(plan, resource_type)}


def container_definitions(plan: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each task definition's container definitions, decoded: they must be fully known at plan."""
    decoded = {}
    for family, task in by_name(plan, "aws_ecs_task_definition", "family").items():
        assert "container_definitions" in task, f"{family}: container definitions unknown at plan"
        decoded[family] = json.loads(task["container_definitions"])
    return decoded


def register_task_definition_shape() -> Any:
    """The ECS API's own request model for RegisterTaskDefinition, as botocore ships it."""
    return botocore.session.get_session().get_service_model("ecs").operation_model("RegisterTaskDefinition").input_shape


def env(workspace: str) -> EnvironmentSettings:
    return SETTINGS.environments[workspace]


def tasks(workspace: str, service: str) -> TaskCount:
    """A service's task bounds in a workspace, as the table says: its override, else the environment's."""
    return env(workspace).services.get(service, ServiceOverrides()).tasks or env(workspace).tasks


def image(workspace: str, service: str) -> str:
    """What the release manifest says, as the container names it (`repo@sha256:...` or `repo:tag`)."""
    return image_reference(SETTINGS.services[service].image, SETTINGS.releases[workspace].images[service])


def nat_gateways(workspace: str) -> int:
    return env(workspace).nat_gateway_mode.gateway_count(SETTINGS.project.az_count)


def test_the_shipped_environments_are_the_courses() -> None:
    for workspace, ((low, high), protection, retention, flow_retention) in SHIPPED.items():
        env = SETTINGS.environments[workspace]
        assert (env.tasks.minimum, env.tasks.maximum, env.alb_deletion_protection) == (low, high, protection)
        assert (env.log_retention_days, env.flow_log_retention_days) == (retention, flow_retention)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_four_services_with_their_counts(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    services = by_name(plan, "aws_ecs_service")
    assert sorted(services) == [f"{workspace}-store2018-{s}" for s in sorted(SETTINGS.services)]
    capacity = env(workspace).capacity
    for name, service in services.items():
        bounds = tasks(workspace, name.removeprefix(f"{workspace}-store2018-"))
        assert service["desired_count"] == bounds.minimum
        assert "launch_type" not in service  # capacity comes from the strategy (unknown = computed)
        assert sorted(
            (c["capacity_provider"], c["base"], c["weight"]) for c in service["capacity_provider_strategy"]
        ) == [
            ("FARGATE", capacity.fargate_base, capacity.fargate_weight),
            ("FARGATE_SPOT", 0, capacity.fargate_spot_weight),
        ]
        assert service["network_configuration"][0]["assign_public_ip"] is False
        assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
    targets = planned_resources(plan, "aws_appautoscaling_target")
    assert sorted((t["values"]["min_capacity"], t["values"]["max_capacity"]) for t in targets) == sorted(
        (tasks(workspace, s).minimum, tasks(workspace, s).maximum) for s in SETTINGS.services
    )
    (cluster,) = planned_resources(plan, "aws_ecs_cluster")
    assert cluster["values"]["name"] == f"{workspace}-store2018-cluster"


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_one_registry_per_service_and_one_attachment_per_exposed_service(
    plans: dict[str, dict[str, Any]], workspace: str
) -> None:
    plan = plans[workspace]
    for service in planned_resources(plan, "aws_ecs_service"):
        values = service["values"]
        assert len(values["service_registries"]) == 1, service["address"]
        (attachment,) = values["load_balancer"]  # every course service is exposed (front end + three APIs)
        name = values["name"].removeprefix(f"{workspace}-store2018-")
        assert (attachment["container_name"], attachment["container_port"]) == (name, 80)
        assert values["health_check_grace_period_seconds"] == 60
    discovery = by_name(plan, "aws_service_discovery_service")
    assert sorted(discovery) == ["api-account", "api-inventory", "api-shopping", "app-store2018"]
    for entry in discovery.values():
        config = entry["dns_config"][0]
        assert config["routing_policy"] == "MULTIVALUE"
        assert config["dns_records"] == [{"ttl": 10, "type": "A"}]
    (namespace,) = planned_resources(plan, "aws_service_discovery_private_dns_namespace")
    assert namespace["values"]["name"] == "microservices.private"


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_container_definitions_field_by_field(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    log_groups = by_name(plan, "aws_cloudwatch_log_group")
    definitions = container_definitions(plan)
    assert sorted(definitions) == [f"{workspace}-store2018-{s}" for s in sorted(SETTINGS.services)]
    for service in SETTINGS.services:
        (container,) = definitions[f"{workspace}-store2018-{service}"]
        log_group = f"/ecs/{workspace}-store2018/{service}"
        assert log_group in log_groups
        expected: dict[str, Any] = {
            "name": service,
            "image": image(workspace, service),
            "essential": True,
            "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": log_group, "awslogs-region": "us-west-2", "awslogs-stream-prefix": "ecs"},
            },
        }
        environment = container_environment(SETTINGS, service)
        if environment:
            expected["environment"] = [{"name": k, "value": v} for k, v in sorted(environment.items())]
        assert container == expected


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_front_end_finds_the_apis_by_their_cloud_map_names(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    (front_end,) = container_definitions(plan)[f"{workspace}-store2018-store2018"]
    variables = {v["name"]: v["value"] for v in front_end["environment"]}
    (namespace,) = planned_resources(plan, "aws_service_discovery_private_dns_namespace")
    registered = {f"{name}.{namespace['values']['name']}" for name in by_name(plan, "aws_service_discovery_service")}
    assert variables == {
        "ACCOUNT_SERVICE_API_BASE": "http://api-account.microservices.private/api",
        "INVENTORY_SERVICE_API_BASE": "http://api-inventory.microservices.private/api",
        "SHOPPING_SERVICE_API_BASE": "http://api-shopping.microservices.private/api",
    }
    for url in variables.values():
        host = url.removeprefix("http://").split("/")[0]
        assert host in registered


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_task_definitions_satisfy_the_ecs_api_model(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    shape = register_task_definition_shape()
    validator = ParamValidator()
    for family, task in by_name(plans[workspace], "aws_ecs_task_definition", "family").items():
        request = {
            "family": family,
            "containerDefinitions": json.loads(task["container_definitions"]),
            "cpu": task["cpu"],
            "memory": task["memory"],
            "networkMode": task["network_mode"],
            "requiresCompatibilities": task["requires_compatibilities"],
            "runtimePlatform": {
                "operatingSystemFamily": task["runtime_platform"][0]["operating_system_family"],
                "cpuArchitecture": task["runtime_platform"][0]["cpu_architecture"],
            },
            # Known only after apply; any ARN shape will do for the model check.
            "executionRoleArn": "arn:aws:iam::123456789012:role/execution",
            "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        }
        report = validator.validate(request, shape)
        assert not report.has_errors(), f"{family}:\n{report.generate_report()}"
        assert (task["cpu"], task["memory"], task["network_mode"]) == ("256", "512", "awsvpc")


def test_the_model_check_catches_a_bad_definition() -> None:
    shape = register_task_definition_shape()
    bad = {"family": "x", "containerDefinitions": [{"name": "x", "portMappings": [{"containerPort": "80"}]}]}
    assert "Invalid type for parameter containerDefinitions[0].portMappings[0].containerPort" in (
        ParamValidator().validate(bad, shape).generate_report()
    )


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_load_balancer_listener_and_health_checks(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    expected, https = env(workspace), env(workspace).certificate_arn is not None
    (alb,) = planned_resources(plan, "aws_lb")
    assert alb["values"]["name"] == f"{workspace}-store2018"
    assert alb["values"]["internal"] is False and alb["values"]["drop_invalid_header_fields"] is True
    assert alb["values"]["enable_deletion_protection"] is expected.alb_deletion_protection
    groups = by_name(plan, "aws_lb_target_group")
    assert {name: (g["health_check"][0]["path"], g["health_check"][0]["matcher"]) for name, g in groups.items()} == {
        f"{workspace}-store2018-account": ("/api/healthcheck", "200"),
        f"{workspace}-store2018-inventory": ("/api/healthcheck", "200"),
        f"{workspace}-store2018-shopping": ("/api/healthcheck", "200"),
        f"{workspace}-store2018-store2018": ("/healthcheck", "200"),
    }
    assert {(g["target_type"], g["deregistration_delay"]) for g in groups.values()} == {("ip", "30")}
    listeners = planned_resources(plan, "aws_lb_listener")
    assert sorted(r["values"]["port"] for r in listeners) == ([80, 443] if https else [80])
    rules = planned_resources(plan, "aws_lb_listener_rule")  # the redirect rule only with a certificate
    assert sorted(r["values"]["condition"][0]["path_pattern"][0]["values"][0] for r in rules) == sorted(
        ["/api/cart*", "/api/consumers*", "/api/products*", *(["*"] if https else [])]
    )
    logs = by_name(plan, "aws_cloudwatch_log_group")
    assert {g["retention_in_days"] for n, g in logs.items() if n.startswith("/ecs/")} == {expected.log_retention_days}
    flow_logs = logs[f"/vpc/{workspace}-store2018/flow-logs"]
    assert flow_logs["retention_in_days"] == expected.flow_log_retention_days


@pytest.fixture(scope="module")
def https_plans(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """A variant: prod has a certificate and pinned zones, both workspaces a DNS record; staging stays HTTP;
    the account service runs with a read-only root file system."""
    environments = {
        **SETTINGS.environments,
        "prod": replace(SETTINGS.environments["prod"], certificate_arn=CERTIFICATE, zone_ids=PINNED_ZONES),
    }
    services = {**SETTINGS.services, "account": replace(SETTINGS.services["account"], read_only_root_filesystem=True,
                                                        writable_paths=("/tmp", "/var/log"))}  # fmt: skip
    folder = tmp_path_factory.mktemp("https")
    build_app(
        outdir=str(folder / "out"),
        settings=settings_with(environments=environments, services=services, hosted_zone_id=ZONE),
    ).synth()
    with TerraformWorkdir(folder / "out" / "stacks" / STACK_NAME, folder / "work", moto) as workdir:
        return {ws: workdir.plan_json(ws) for ws in WORKSPACES}


def test_with_a_certificate_http_redirects_and_https_serves(https_plans: dict[str, dict[str, Any]]) -> None:
    listeners = {r["values"]["port"]: r["values"] for r in planned_resources(https_plans["prod"], "aws_lb_listener")}
    assert sorted(listeners) == [80, 443]
    assert listeners[80]["default_action"][0]["type"] == "forward"  # overtaken by the redirect rule below
    (redirect,) = [r["values"] for r in planned_resources(https_plans["prod"], "aws_lb_listener_rule")
                   if r["values"]["priority"] == 1]  # fmt: skip
    assert redirect["condition"][0]["path_pattern"][0]["values"] == ["*"]
    (action,) = redirect["action"]
    assert action["type"] == "redirect"
    assert action["redirect"] == [
        {"host": "#{host}", "path": "/#{path}", "port": "443", "protocol": "HTTPS", "query": "#{query}",
         "status_code": "HTTP_301"}
    ]  # fmt: skip
    assert all(r["values"]["priority"] != 1 for r in planned_resources(https_plans["staging"], "aws_lb_listener_rule"))
    https = listeners[443]
    assert (https["protocol"], https["certificate_arn"]) == ("HTTPS", CERTIFICATE)
    assert https["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["default_action"][0]["type"] == "forward"

    staging = planned_resources(https_plans["staging"], "aws_lb_listener")
    assert [(r["values"]["port"], r["values"]["default_action"][0]["type"]) for r in staging] == [(80, "forward")]


def test_pinned_zones_place_the_subnets_by_zone_id(https_plans: dict[str, dict[str, Any]]) -> None:
    pinned = sorted((r["values"]["tags"]["Name"], r["values"]["availability_zone_id"])
                    for r in planned_resources(https_plans["prod"], "aws_subnet"))  # fmt: skip
    assert pinned == [
        ("prod-store2018-private-0", "usw2-az1"), ("prod-store2018-private-1", "usw2-az2"),
        ("prod-store2018-public-0", "usw2-az1"), ("prod-store2018-public-1", "usw2-az2"),
    ]  # fmt: skip
    # Unpinned staging takes the first two names of the sorted list.
    names = sorted(r["values"]["availability_zone"] for r in planned_resources(https_plans["staging"], "aws_subnet"))
    assert names == ["us-west-2a", "us-west-2a", "us-west-2b", "us-west-2b"]


def test_a_zone_id_the_region_lacks_stops_the_plan(moto: MotoServer, tmp_path: Path) -> None:
    staging = replace(SETTINGS.environments["staging"], zone_ids=("usw2-az1", "usw2-az9"))
    environments = {**SETTINGS.environments, "staging": staging}
    build_app(outdir=str(tmp_path / "out"), settings=settings_with(environments=environments)).synth()
    with TerraformWorkdir(tmp_path / "out" / "stacks" / STACK_NAME, tmp_path / "work", moto) as workdir:
        result = workdir.plan("staging")
    assert result.returncode != 0
    assert "EnvironmentSettings.zone_ids names a zone id that is not one of this region's own zones" in " ".join(
        result.output.split()
    ), result.output


def test_a_read_only_root_file_system_keeps_its_writable_paths(https_plans: dict[str, dict[str, Any]]) -> None:
    planned = planned_resources(https_plans["prod"], "aws_ecs_task_definition")
    tasks = {r["values"]["family"]: r["values"] for r in planned}
    account = tasks["prod-store2018-account"]
    (container,) = json.loads(account["container_definitions"])
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [
        {"sourceVolume": "writable-0", "containerPath": "/tmp", "readOnly": False},
        {"sourceVolume": "writable-1", "containerPath": "/var/log", "readOnly": False},
    ]
    assert sorted(v["name"] for v in account["volume"]) == ["writable-0", "writable-1"]
    (inventory,) = json.loads(tasks["prod-store2018-inventory"]["container_definitions"])
    assert "readonlyRootFilesystem" not in inventory and "mountPoints" not in inventory


def test_dns_records_carry_the_course_names(https_plans: dict[str, dict[str, Any]]) -> None:
    names = {
        ws: [r["values"]["name"] for r in planned_resources(p, "aws_route53_record")] for ws, p in https_plans.items()
    }
    assert {ws: names[ws] for ws in ("prod", "staging")} == {"prod": ["store2018"], "staging": ["store2018test"]}
    for workspace, env in SETTINGS.environments.items():
        assert names[workspace] == [env.record_name(workspace, SETTINGS.project.name)]
    for plan in https_plans.values():
        (record,) = planned_resources(plan, "aws_route53_record")
        assert (record["values"]["zone_id"], record["values"]["type"]) == (ZONE, "A")


def test_each_workspace_creates_the_same_resources_but_nat(plans: dict[str, Any]) -> None:
    created = {
        ws: sorted(c["address"] for c in plan["resource_changes"] if c["change"]["actions"] == ["create"])
        for ws, plan in plans.items()
    }
    assert len(created["prod"]) == 121
    # Only the number of NAT gateways (and their EIPs) differs, and ECS Exec's task-role policies: staging
    # shares one NAT gateway and turns exec on.
    nat = ("aws_eip.network_nat_eip_333844B5[", "aws_nat_gateway.network_nat_B2CD8D5F[")

    def is_exec(address: str) -> bool:
        return address.startswith("aws_iam_role_policy.service_") and "_exec_policy_" in address

    for workspace, addresses in created.items():
        shared = [a for a in addresses if not a.startswith(nat) and not is_exec(a)]
        assert shared == [a for a in created["prod"] if not a.startswith(nat) and not is_exec(a)]
        count = nat_gateways(workspace)
        expected = sorted(f"{prefix}{i}]" for prefix in nat for i in range(count))
        assert sorted(a for a in addresses if a.startswith(nat)) == expected
        assert len([a for a in addresses if is_exec(a)]) == len(SETTINGS.services) * env(workspace).ecs_exec
    assert nat_gateways("staging") == 1 and env("staging").ecs_exec and not env("prod").ecs_exec
