"""The committed synthesis read by the real Terraform and AWS provider, offline, against moto.

Per-workspace values are expressions in the synthesis, so the plans are where they are checked.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from conftest import SETTINGS, settings_with

from local.emulated import MotoServer, TerraformWorkdir, planned_resources
from store2018.app import STACK_NAME, build_app
from store2018.settings import EnvironmentSettings

# One worker per group (`--dist loadgroup`): its tests share the session and module fixtures.
pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("plans")]

WORKSPACES = sorted(SETTINGS.environments)
# The shipped table, pinned: workspace -> (VPC CIDR, NAT gateways).
SHIPPED = {"prod": ("192.168.0.0/16", 2), "staging": ("172.17.0.0/16", 1)}


def test_the_shipped_networks_are_the_courses() -> None:
    for workspace, (cidr, nat_count) in SHIPPED.items():
        env = SETTINGS.environments[workspace]
        assert (env.vpc_cidr, env.nat_gateway_mode.gateway_count(SETTINGS.project.az_count)) == (cidr, nat_count)


def test_validate_passes(committed_stack: TerraformWorkdir) -> None:
    committed_stack.select_workspace("default")
    result = committed_stack.run("validate")
    assert "Success! The configuration is valid." in result.output


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_plan_shows_the_workspace_network(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    env = SETTINGS.environments[workspace]
    cidr, nat_count = env.vpc_cidr, env.nat_gateway_mode.gateway_count(SETTINGS.project.az_count)
    (vpc,) = planned_resources(plan, "aws_vpc")
    assert vpc["values"]["cidr_block"] == cidr
    assert vpc["values"]["enable_dns_support"] is True and vpc["values"]["enable_dns_hostnames"] is True

    subnets = {s["values"]["tags"]["Name"]: s["values"]["cidr_block"] for s in planned_resources(plan, "aws_subnet")}
    vpc_net = ipaddress.ip_network(cidr)
    subnet_of = list(vpc_net.subnets(new_prefix=vpc_net.prefixlen + 8))  # cidrsubnet(vpc, 8, i)
    assert subnets == {
        f"{workspace}-store2018-private-0": str(subnet_of[0]),
        f"{workspace}-store2018-private-1": str(subnet_of[1]),
        f"{workspace}-store2018-public-0": str(subnet_of[2]),
        f"{workspace}-store2018-public-1": str(subnet_of[3]),
    }
    assert len(planned_resources(plan, "aws_nat_gateway")) == nat_count
    assert len(planned_resources(plan, "aws_eip")) == nat_count
    assert len(planned_resources(plan, "aws_route_table")) == 3  # public + one per AZ


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_plan_names_and_tags_carry_the_workspace(plans: dict[str, dict[str, Any]], workspace: str) -> None:
    plan = plans[workspace]
    groups = sorted(g["values"]["name"] for g in planned_resources(plan, "aws_security_group"))
    assert groups == [f"{workspace}-store2018-alb", f"{workspace}-store2018-tasks"]
    taggable = [r for r in plan["planned_values"]["root_module"]["resources"] if "tags_all" in r.get("values", {})]
    assert len(taggable) >= 15
    for resource in taggable:
        assert resource["values"]["tags_all"] is None or {"Project": "store2018", "Workspace": workspace}.items() <= (
            resource["values"]["tags_all"].items()
        ), resource["address"]


def test_state_lives_under_the_workspace_key_prefix(
    committed_stack: TerraformWorkdir, plans: dict[str, dict[str, Any]]
) -> None:
    listed = committed_stack.moto.client("s3").list_objects_v2(Bucket=committed_stack.state_bucket)
    keys = {o["Key"] for o in listed.get("Contents", [])}
    for workspace in plans:
        assert f"{committed_stack.workspace_key_prefix}/{workspace}/{committed_stack.state_key}" in keys


@pytest.mark.parametrize("workspace", ["default", "no-such-env"])  # never an environment's name
def test_plan_in_a_workspace_without_an_entry_fails_clearly(committed_stack: TerraformWorkdir, workspace: str) -> None:
    result = committed_stack.plan(workspace)
    assert result.returncode != 0
    text = " ".join(result.output.split())  # Terraform wraps long messages
    assert f'Workspace "{workspace}" has no entry in the environments table' in text
    assert f"Allowed workspaces: {', '.join(SETTINGS.environments)}." in text


def test_a_workspace_bound_to_another_account_is_refused(moto: MotoServer, tmp_path: Path) -> None:
    """moto answers as account 123456789012; staging is bound to another account, prod to that one."""
    settings = settings_with(
        environments={
            "prod": EnvironmentSettings(vpc_cidr="192.168.0.0/16", allowed_account_ids=("123456789012",)),
            "staging": EnvironmentSettings(vpc_cidr="172.17.0.0/16", allowed_account_ids=("210987654321",)),
        }
    )
    build_app(outdir=str(tmp_path / "out"), settings=settings).synth()
    stack = tmp_path / "out" / "stacks" / STACK_NAME
    with TerraformWorkdir(stack, tmp_path / "work", moto, keep_account_binding=True) as workdir:
        assert workdir.plan("prod").returncode == 0
        refused = workdir.plan("staging")
    assert refused.returncode != 0
    assert "AWS account ID not allowed: 123456789012" in refused.output
    # A local run binds the provider to the emulator's account instead: staging's real account is no obstacle.
    with TerraformWorkdir(stack, tmp_path / "local", moto) as workdir:
        assert workdir.plan("staging").returncode == 0
