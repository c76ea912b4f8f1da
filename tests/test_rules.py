"""Our own security rules (store2018/rules.py): the real stack passes, and each rule fails on a
stack or plan built to break it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from cdktf import Testing as CdktfTesting
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.security_group_rule import SecurityGroupRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from conftest import SETTINGS

from store2018.rules import check_plan, check_synthesis
from store2018.stack import Store2018Stack


def test_the_real_stack_passes(template: dict[str, Any]) -> None:
    assert check_synthesis(template) == []


def synth_with(add: Callable[[Store2018Stack], None]) -> dict[str, Any]:
    """The real stack plus whatever `add` declares in it."""
    stack = Store2018Stack(CdktfTesting.app(), "store2018", settings=SETTINGS)
    add(stack)
    parsed: dict[str, Any] = json.loads(CdktfTesting.synth(stack))
    return parsed


def rules_broken(document: dict[str, Any]) -> set[str]:
    return {v.rule for v in check_synthesis(document)}


def test_ssh_open_to_the_world_on_the_load_balancer_is_refused() -> None:
    def open_ssh(stack: Store2018Stack) -> None:
        VpcSecurityGroupIngressRule(stack, "ssh", security_group_id=stack.network.alb_security_group_id,
                                    ip_protocol="tcp", from_port=22, to_port=22, cidr_ipv4="0.0.0.0/0")  # fmt: skip

    assert rules_broken(synth_with(open_ssh)) == {"no-open-ingress"}


def test_the_tasks_open_to_the_world_are_refused_even_on_port_80() -> None:
    def open_tasks(stack: Store2018Stack) -> None:
        VpcSecurityGroupIngressRule(stack, "web", security_group_id=stack.network.tasks_security_group_id,
                                    ip_protocol="tcp", from_port=80, to_port=80, cidr_ipv6="::/0")  # fmt: skip

    assert rules_broken(synth_with(open_tasks)) == {"no-open-ingress", "tasks-only-from-load-balancer"}


def test_the_tasks_admitting_a_private_range_are_refused() -> None:
    def vpn(stack: Store2018Stack) -> None:
        SecurityGroupRule(stack, "vpn", type="ingress", security_group_id=stack.network.tasks_security_group_id,
                          protocol="tcp", from_port=80, to_port=80, cidr_blocks=["10.0.0.0/8"])  # fmt: skip

    assert rules_broken(synth_with(vpn)) == {"tasks-only-from-load-balancer"}


def test_a_task_with_a_public_ip_is_refused(template: dict[str, Any]) -> None:
    document = copy.deepcopy(template)
    service = next(iter(document["resource"]["aws_ecs_service"].values()))
    service["network_configuration"]["assign_public_ip"] = True
    assert rules_broken(document) == {"no-public-ip"}


@pytest.mark.parametrize(
    "alarms",
    [None, {"alarm_names": [], "enable": True, "rollback": True}, {"alarm_names": ["a"], "enable": True,
     "rollback": False}, {"alarm_names": ["a"], "enable": False, "rollback": True}],
    ids=["no block", "no alarm", "no rollback", "not enabled"],
)  # fmt: skip
def test_a_service_that_would_not_roll_back_on_its_alarms_is_refused(
    template: dict[str, Any], alarms: dict[str, Any] | None
) -> None:
    document = copy.deepcopy(template)
    service = next(iter(document["resource"]["aws_ecs_service"].values()))
    service.pop("alarms")
    if alarms is not None:
        service["alarms"] = alarms
    assert rules_broken(document) == {"rollback-alarms"}


def test_a_log_group_without_retention_is_refused() -> None:
    def forever(stack: Store2018Stack) -> None:
        CloudwatchLogGroup(stack, "audit", name="audit")

    assert rules_broken(synth_with(forever)) == {"log-retention"}


def _plan(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"planned_values": {"root_module": {"resources": list(resources)}}}


def _resource(resource_type: str, **values: Any) -> dict[str, Any]:
    return {"address": f"{resource_type}.x", "mode": "managed", "type": resource_type, "name": "x", "values": values}


TAGS = {"Project": "store2018", "Workspace": "prod", "ManagedBy": "cdktf"}
ROLLBACK = [{"alarm_names": ["prod-store2018-app-5xx"], "enable": True, "rollback": True}]


def plan_rules_broken(plan: dict[str, Any]) -> set[str]:
    return {v.rule for v in check_plan(plan, workspace="prod", project="store2018")}


def test_a_clean_plan_passes() -> None:
    containers = json.dumps([{"name": "app", "image": "nginx", "privileged": False,
                              "environment": [{"name": "API_BASE", "value": "http://api"}],
                              "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:..."}]}])  # fmt: skip
    clean = _plan(
        _resource("aws_vpc", tags_all=TAGS),
        _resource("aws_ecs_service", alarms=ROLLBACK, network_configuration=[{"assign_public_ip": False}]),
        _resource("aws_ecs_task_definition", container_definitions=containers, tags_all=TAGS),
        _resource("aws_cloudwatch_log_group", retention_in_days=7, tags_all=TAGS),
        _resource("aws_route", destination_cidr_block="0.0.0.0/0"),  # not taggable: no tags_all
    )
    assert plan_rules_broken(clean) == set()


@pytest.mark.parametrize(
    ("resource", "rule"),
    [
        (_resource("aws_vpc", tags_all={**TAGS, "Workspace": "staging"}), "tags"),
        (_resource("aws_vpc", tags_all={"ManagedBy": "cdktf"}), "tags"),
        (_resource("aws_ecs_task_definition", tags_all=TAGS,
                   container_definitions=json.dumps([{"name": "app", "privileged": True}])), "no-privileged-container"),
        (_resource("aws_ecs_service", tags_all=TAGS, alarms=ROLLBACK,
                   network_configuration=[{"assign_public_ip": True}]), "no-public-ip"),
        (_resource("aws_ecs_service", tags_all=TAGS, alarms=[]), "rollback-alarms"),
        (_resource("aws_ecs_service", tags_all=TAGS, alarms=[{**ROLLBACK[0], "rollback": False}]), "rollback-alarms"),
        (_resource("aws_cloudwatch_log_group", tags_all=TAGS, retention_in_days=0), "log-retention"),
        *[(_resource("aws_ecs_task_definition", tags_all=TAGS, container_definitions=json.dumps(
            [{"name": "app", "environment": [{"name": "HOST", "value": "db"}, {"name": name, "value": "x"}]}])),
           "no-plain-secrets") for name in ("DB_PASSWORD", "client_secret", "GITHUB_TOKEN", "API_KEY")],
    ],
    ids=["wrong workspace tag", "missing tags", "privileged", "public ip", "no rollback alarms", "rollback off",
         "no retention", "password", "secret", "token", "key"],
)  # fmt: skip
def test_each_plan_rule_fails_on_a_plan_that_breaks_it(resource: dict[str, Any], rule: str) -> None:
    assert plan_rules_broken(_plan(resource)) == {rule}


@pytest.mark.parametrize(
    ("direction", "rule"),
    [
        ("ingress", {"ip_protocol": "-1"}),  # every protocol and port between the tasks
        ("ingress", {"ip_protocol": "tcp", "from_port": 0, "to_port": 65535}),
        ("egress", {"ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0"}),  # the tasks may send anything anywhere
        ("egress", {"ip_protocol": "tcp", "from_port": 80, "to_port": 80, "cidr_ipv4": "0.0.0.0/0"}),
        ("egress", {"ip_protocol": "udp", "from_port": 53, "to_port": 53, "cidr_ipv4": "0.0.0.0/0"}),
        ("egress", {"ip_protocol": "tcp", "from_port": 5432, "to_port": 5432, "prefix_list_id": "pl-12345678"}),
        ("egress", {"ip_protocol": "tcp", "from_port": 80, "to_port": 80, "referenced_security_group_id": "ALB"}),
    ],
)
def test_wide_task_rules_are_refused(direction: str, rule: dict[str, Any]) -> None:
    from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule

    kind = VpcSecurityGroupIngressRule if direction == "ingress" else VpcSecurityGroupEgressRule

    def widen(stack: Store2018Stack) -> None:
        group = stack.network.tasks_security_group_id
        given = dict(rule)
        if given.get("referenced_security_group_id") == "ALB":  # out to another group than the tasks' own
            given["referenced_security_group_id"] = stack.network.alb_security_group_id
        elif not {"cidr_ipv4", "prefix_list_id"} & set(given):
            given["referenced_security_group_id"] = group
        kind(stack, "wide", security_group_id=group, **given)

    assert "narrow-task-rules" in rules_broken(synth_with(widen))
