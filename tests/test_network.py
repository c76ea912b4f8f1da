"""The network construct, asserted on the synthesised JSON (what is the same in every workspace)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from cdktf import Testing as CdktfTesting
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.vpc import Vpc
from conftest import SETTINGS, ref, resource_named, resources, settings_with, synth

from store2018.checks import ConfigError


def by_cidr_netnum(subnets: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Subnets keyed by the netnum of their `cidrsubnet(<vpc cidr>, 8, netnum)` expression."""
    out = {}
    for subnet in subnets.values():
        match = re.fullmatch(r"\$\{cidrsubnet\(aws_vpc\.(\w+)\.cidr_block, 8, (\d+)\)\}", subnet["cidr_block"])
        assert match, subnet["cidr_block"]
        out[int(match.group(2))] = subnet
    return out


def test_vpc_takes_the_workspace_cidr_with_dns_on(synthesized: str) -> None:
    assert CdktfTesting.to_have_resource_with_properties(
        synthesized,
        Vpc.TF_RESOURCE_TYPE,
        {
            "cidr_block": "${local.environment.vpc_cidr}",
            "enable_dns_support": True,
            "enable_dns_hostnames": True,
            "tags": {"Name": "${local.workspace}-store2018-vpc"},
        },
    )
    assert len(resources(json.loads(synthesized), "aws_vpc")) == 1


def test_subnets_follow_the_course_layout(template: dict[str, Any]) -> None:
    subnets = resources(template, "aws_subnet")
    assert len(subnets) == 4
    layout = by_cidr_netnum(subnets)
    assert sorted(layout) == [0, 1, 2, 3]
    zones = "data.aws_availability_zones.network_zones_2241F3F0.names"
    for i in range(2):
        private, public = layout[i], layout[2 + i]  # private i = netnum i, public i = netnum az_count + i
        assert private["tags"]["Tier"] == "private" and public["tags"]["Tier"] == "public"
        # Pinned environments by zone id, the others by index into the sorted names: exactly one is set.
        assert (
            private["availability_zone"]
            == public["availability_zone"]
            == (f"${{local.environment.zones_pinned ? null : element({zones}, {i})}}")
        )
        assert (
            private["availability_zone_id"]
            == public["availability_zone_id"]
            == (f"${{local.environment.zones_pinned ? element(local.environment.zone_ids, {i}) : null}}")
        )
        assert private["map_public_ip_on_launch"] is False and public["map_public_ip_on_launch"] is False


def test_zones_are_the_regions_own_in_every_state(template: dict[str, Any]) -> None:
    """Local and Wavelength Zones (opt-in) never: they would sort first ("us-west-2-lax-1a" < "us-west-2a").
    No state filter: an impaired zone stays in the list, so the index of every other zone holds. (The
    emulator ignores the opt-in filter: this is asserted on the synthesis.)"""
    assert template["data"]["aws_availability_zones"] == {
        "network_zones_2241F3F0": {
            "filter": [{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
        }
    }


def test_zone_ids_are_pinned_per_environment() -> None:
    environments = dict(SETTINGS.environments)
    environments["prod"] = replace(environments["prod"], zone_ids=("usw2-az1", "usw2-az2"))
    table = json.loads(synth(settings_with(environments=environments)))["locals"]["environments"]
    assert (table["prod"]["zone_ids"], table["prod"]["zones_pinned"]) == (["usw2-az1", "usw2-az2"], True)
    assert (table["staging"]["zone_ids"], table["staging"]["zones_pinned"]) == ([], False)


@pytest.mark.parametrize(
    ("zone_ids", "message"),
    [
        (("usw2-az1",), "exactly az_count (2) different zone ids"),
        (("usw2-az1", "usw2-az1"), "exactly az_count (2) different zone ids"),
        (("usw2-az1", "usw2-lax1-az1"), "Local and Wavelength Zone ids"),
        (("us-west-2a", "us-west-2b"), "an Availability Zone id such as 'usw2-az1'"),
    ],
)
def test_bad_zone_ids_are_refused(zone_ids: tuple[str, ...], message: str) -> None:
    environments = dict(SETTINGS.environments)
    environments["prod"] = replace(environments["prod"], zone_ids=zone_ids)
    with pytest.raises(ConfigError) as refused:
        settings_with(environments=environments)
    assert "ENVIRONMENTS['prod'].zone_ids" in str(refused.value) and message in str(refused.value)


def test_az_count_drives_the_layout() -> None:
    template = json.loads(synth(settings_with(az_count=3)))
    layout = by_cidr_netnum(resources(template, "aws_subnet"))
    assert sorted(layout) == [0, 1, 2, 3, 4, 5]
    assert len(resources(template, "aws_route_table")) == 1 + 3
    assert template["locals"]["environments"]["prod"]["nat_gateway_count"] == 3
    assert template["locals"]["environments"]["staging"]["nat_gateway_count"] == 1


def test_public_subnets_route_through_the_internet_gateway(synthesized: str, template: dict[str, Any]) -> None:
    assert CdktfTesting.to_have_resource(synthesized, InternetGateway.TF_RESOURCE_TYPE)
    igw = next(iter(resources(template, "aws_internet_gateway")))
    public_rt = next(
        k for k, v in resources(template, "aws_route_table").items() if v["tags"]["Name"].endswith("-public")
    )
    routes = [r for r in resources(template, "aws_route").values() if "gateway_id" in r]
    assert routes == [
        {
            "destination_cidr_block": "0.0.0.0/0",
            "gateway_id": f"${{aws_internet_gateway.{igw}.id}}",
            "route_table_id": f"${{aws_route_table.{public_rt}.id}}",
        }
    ]
    public_ids = {
        f"${{aws_subnet.{k}.id}}" for k, v in resources(template, "aws_subnet").items() if v["tags"]["Tier"] == "public"
    }
    associated = {
        a["subnet_id"]
        for a in resources(template, "aws_route_table_association").values()
        if a["route_table_id"] == f"${{aws_route_table.{public_rt}.id}}"
    }
    assert associated == public_ids


def test_nat_gateways_are_counted_per_workspace(template: dict[str, Any]) -> None:
    (eip,) = resources(template, "aws_eip").values()
    (nat_name, nat), *_ = resources(template, "aws_nat_gateway").items()
    assert len(resources(template, "aws_nat_gateway")) == 1
    assert eip["count"] == nat["count"] == "${local.environment.nat_gateway_count}"
    assert eip["domain"] == "vpc"
    assert nat["allocation_id"] == "${element(local.nat_eip_ids, count.index)}"
    assert nat["subnet_id"].startswith("${element([aws_subnet.network_public_subnet_0")
    assert template["locals"]["nat_gateway_ids"] == f"${{aws_nat_gateway.{nat_name}[*].id}}"


def test_each_private_subnet_has_its_own_route_table_through_nat(template: dict[str, Any]) -> None:
    tables = {k: v for k, v in resources(template, "aws_route_table").items() if "-private-" in v["tags"]["Name"]}
    assert len(tables) == 2
    nat_routes = [r for r in resources(template, "aws_route").values() if "nat_gateway_id" in r]
    assert sorted(r["nat_gateway_id"] for r in nat_routes) == [
        "${element(local.nat_gateway_ids, 0)}",
        "${element(local.nat_gateway_ids, 1)}",
    ]
    assert {r["route_table_id"] for r in nat_routes} == {f"${{aws_route_table.{k}.id}}" for k in tables}
    private_ids = {
        f"${{aws_subnet.{k}.id}}"
        for k, v in resources(template, "aws_subnet").items()
        if v["tags"]["Tier"] == "private"
    }
    pairs = {(a["subnet_id"], a["route_table_id"]) for a in resources(template, "aws_route_table_association").values()}
    private_pairs = {p for p in pairs if p[0] in private_ids}
    assert len(private_pairs) == 2 and {p[1] for p in private_pairs} == {f"${{aws_route_table.{k}.id}}" for k in tables}


def _security_groups(template: dict[str, Any]) -> tuple[str, str]:
    groups = resources(template, "aws_security_group")
    assert len(groups) == 2
    alb = next(k for k, v in groups.items() if v["name"] == "${local.workspace}-store2018-alb")
    tasks = next(k for k, v in groups.items() if v["name"] == "${local.workspace}-store2018-tasks")
    for group in groups.values():
        assert "ingress" not in group and "egress" not in group  # rules are separate resources
    return f"${{aws_security_group.{alb}.id}}", f"${{aws_security_group.{tasks}.id}}"


def _rules(template: dict[str, Any], kind: str, group: str) -> list[dict[str, Any]]:
    rules = resources(template, f"aws_vpc_security_group_{kind}_rule").values()
    return sorted(
        (
            {k: v for k, v in r.items() if k not in ("//", "description")}
            for r in rules
            if r["security_group_id"] == group
        ),
        key=lambda r: json.dumps(r, sort_keys=True),
    )


def test_load_balancer_group_allows_http_and_https_from_anywhere_only(template: dict[str, Any]) -> None:
    alb, tasks = _security_groups(template)
    assert _rules(template, "ingress", alb) == [
        {"cidr_ipv4": "0.0.0.0/0", "from_port": 443, "ip_protocol": "tcp", "security_group_id": alb, "to_port": 443},
        {"cidr_ipv4": "0.0.0.0/0", "from_port": 80, "ip_protocol": "tcp", "security_group_id": alb, "to_port": 80},
    ]
    assert _rules(template, "egress", alb) == [
        {"from_port": 80, "ip_protocol": "tcp", "referenced_security_group_id": tasks, "security_group_id": alb,
         "to_port": 80},
    ]  # fmt: skip


def test_tasks_group_accepts_the_app_port_from_the_load_balancer_and_itself(template: dict[str, Any]) -> None:
    alb, tasks = _security_groups(template)
    assert _rules(template, "ingress", tasks) == [
        {"from_port": 80, "ip_protocol": "tcp", "referenced_security_group_id": alb, "security_group_id": tasks,
         "to_port": 80},
        {"from_port": 80, "ip_protocol": "tcp", "referenced_security_group_id": tasks, "security_group_id": tasks,
         "to_port": 80},
    ]  # fmt: skip
    # Out: HTTPS anywhere (image pulls, CloudWatch Logs, AWS APIs) and the services' ports to the other tasks.
    assert _rules(template, "egress", tasks) == [
        {"cidr_ipv4": "0.0.0.0/0", "from_port": 443, "ip_protocol": "tcp", "security_group_id": tasks, "to_port": 443},
        {"from_port": 80, "ip_protocol": "tcp", "referenced_security_group_id": tasks, "security_group_id": tasks,
         "to_port": 80},
    ]  # fmt: skip


def test_no_ingress_from_anywhere_except_the_load_balancer_listeners(template: dict[str, Any]) -> None:
    alb, _ = _security_groups(template)
    open_rules = [r for r in resources(template, "aws_vpc_security_group_ingress_rule").values() if "cidr_ipv4" in r]
    assert {(r["security_group_id"], r["from_port"]) for r in open_rules} == {(alb, 80), (alb, 443)}


def test_exposed_services_ports_reach_both_groups() -> None:
    services = dict(SETTINGS.services)
    services["store2018"] = replace(SETTINGS.services["store2018"], container_port=8080)
    template = json.loads(synth(settings_with(services=services)))
    alb, tasks = _security_groups(template)
    assert [r["from_port"] for r in _rules(template, "egress", alb)] == [80, 8080]
    from_alb = [r["from_port"] for r in _rules(template, "ingress", tasks) if r["referenced_security_group_id"] == alb]
    between_tasks = [r["from_port"] for r in _rules(template, "ingress", tasks)
                     if r["referenced_security_group_id"] == tasks]  # fmt: skip
    assert (from_alb, between_tasks) == ([80, 8080], [80, 8080])

    private_apis = json.loads(synth(settings_with(services=services, expose_api_paths=False)))
    alb, tasks = _security_groups(private_apis)
    assert [r["from_port"] for r in _rules(private_apis, "egress", alb)] == [8080]  # the APIs' port 80 stays closed


def test_every_network_resource_is_accounted_for(template: dict[str, Any]) -> None:
    counts = {t: n for t, v in template["resource"].items() if (n := sum(1 for k in v if k.startswith("network_")))}
    assert counts == {
        "aws_vpc": 1,
        "aws_subnet": 4,
        "aws_internet_gateway": 1,
        "aws_route_table": 3,
        "aws_route": 3,
        "aws_route_table_association": 4,
        "aws_eip": 1,  # counted per workspace
        "aws_nat_gateway": 1,  # counted per workspace
        "aws_security_group": 2,
        "aws_vpc_security_group_ingress_rule": 4,
        "aws_vpc_security_group_egress_rule": 3,
        "aws_default_security_group": 1,
        "aws_flow_log": 1,
        "aws_cloudwatch_log_group": 1,
        "aws_iam_role": 1,
        "aws_iam_role_policy": 1,
    }
    assert list(template["resource"]["terraform_data"]) == ["workspace_guard"]


def test_the_default_security_group_has_no_rules(template: dict[str, Any]) -> None:
    vpc = resource_named(template, "aws_vpc", "network_vpc")[0]
    (group,) = resources(template, "aws_default_security_group").values()
    assert group == {
        "vpc_id": ref("aws_vpc", vpc, "id"),
        "ingress": [],
        "egress": [],
        "tags": {"Name": "${local.workspace}-store2018-default"},
    }


def test_flow_logs_record_all_traffic_with_the_workspace_retention(template: dict[str, Any]) -> None:
    vpc = resource_named(template, "aws_vpc", "network_vpc")[0]
    logs, group = resource_named(template, "aws_cloudwatch_log_group", "network_flow_logs")
    role, _ = resource_named(template, "aws_iam_role", "network_flow_logs_role")
    _, flow_log = resource_named(template, "aws_flow_log", "network_flow_log")
    assert group == {
        "name": "/vpc/${local.workspace}-store2018/flow-logs",
        "retention_in_days": "${local.environment.flow_log_retention_days}",
    }
    assert flow_log == {
        "vpc_id": ref("aws_vpc", vpc, "id"),
        "traffic_type": "ALL",
        "log_destination_type": "cloud-watch-logs",
        "log_destination": ref("aws_cloudwatch_log_group", logs, "arn"),
        "iam_role_arn": ref("aws_iam_role", role, "arn"),
        "tags": {"Name": "${local.workspace}-store2018-flow-logs"},
    }
    trust = template["data"]["aws_iam_policy_document"]["flow_logs_trust"]["statement"]
    assert trust[0]["principals"] == [{"type": "Service", "identifiers": ["vpc-flow-logs.amazonaws.com"]}]
    assert trust[0]["condition"][0]["variable"] == "aws:SourceAccount"
    writes = template["data"]["aws_iam_policy_document"]["network_flow_logs_writes_DD44834F"]["statement"]
    assert writes == [
        {
            "actions": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "resources": [f"${{aws_cloudwatch_log_group.{logs}.arn}}:*"],
        }
    ]


def test_the_vpc_refuses_more_zones_than_the_region_has(template: dict[str, Any]) -> None:
    _, vpc = resource_named(template, "aws_vpc", "network_vpc")
    condition, pinned = vpc["lifecycle"]["precondition"]
    assert condition["condition"] == "${length(data.aws_availability_zones.network_zones_2241F3F0.names) >= 2}"
    assert "ProjectSettings.az_count = 2" in condition["error_message"]
    assert pinned["condition"] == (
        "${contains([0], length(setsubtract(local.environment.zone_ids, "
        "data.aws_availability_zones.network_zones_2241F3F0.zone_ids)))}"
    )
    assert "EnvironmentSettings.zone_ids" in pinned["error_message"]
