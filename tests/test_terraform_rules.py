"""Our own security rules (store2018/rules.py) over each workspace's real plan, and the hardening
they and checkov call for, as Terraform resolves it per workspace."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SETTINGS

from local.emulated import SYNTH_STACK_DIR, planned_resources, read_synthesis
from security.iam_gate import Target, plan_refusals
from store2018.rules import check_plan

# One worker per group (`--dist loadgroup`): its tests share the session and module fixtures.
pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("plans")]
WORKSPACES = sorted(SETTINGS.environments)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_every_plan_passes_our_rules(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    assert check_plan(plans[workspace], workspace=workspace, project=SETTINGS.project.name) == []


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_every_plan_passes_the_gates_iam_rule(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    """The shipped settings name no repository: roles without boundaries, trusting ECS tasks and VPC Flow Logs."""
    table = read_synthesis(SYNTH_STACK_DIR)["locals"]["environments"]
    checked, refused = plan_refusals(plans[workspace], Target(workspace, SETTINGS.project.name, table))
    assert refused == [] and checked >= 1 + 2 * len(SETTINGS.services)  # flow logs, execution and task roles


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_every_taggable_resource_is_tagged_with_project_and_workspace(
    plans: dict[str, dict[str, Any]], workspace: str
) -> None:
    resources = plans[workspace]["planned_values"]["root_module"]["resources"]
    tagged = [r for r in resources if "tags_all" in r.get("values", {})]  # the topic policy: all unknown at plan
    assert len(tagged) >= 40  # the rule above judged real resources, not an empty list
    for resource in tagged:
        assert resource["values"]["tags_all"]["Workspace"] == workspace, resource["address"]


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_flow_logs_and_a_closed_default_group_in_every_workspace(
    plans: dict[str, dict[str, Any]], workspace: str
) -> None:
    plan = plans[workspace]
    (flow_log,) = planned_resources(plan, "aws_flow_log")
    assert (flow_log["values"]["traffic_type"], flow_log["values"]["log_destination_type"]) == (
        "ALL",
        "cloud-watch-logs",
    )
    (default_group,) = planned_resources(plan, "aws_default_security_group")
    assert (default_group["values"]["ingress"], default_group["values"]["egress"]) == ([], [])
    (alb,) = planned_resources(plan, "aws_lb")
    assert alb["values"]["access_logs"][0]["enabled"] is False  # an option, off by default
