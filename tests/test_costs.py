"""The monthly cost estimate (delivery/costs.py), on plan JSON shaped like `terraform show -json`.

Every figure is worked out by hand in a comment, from a small price table built here (`TABLE`), not
from prices.json: the arithmetic stays visible and a price update cannot change these tests. Its
prices differ from one another on purpose, so a price read from the wrong key shows.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from delivery.costs import (
    NOT_COUNTED,
    PRICES_FILE,
    Assumptions,
    Estimate,
    Line,
    PriceTable,
    PriceTableError,
    RegionPrices,
    as_json,
    cost_change,
    estimate,
    load_prices,
    markdown,
    state_resources,
)

REGION = "us-west-2"
NO_ARM_REGION = "us-east-1"  # the same prices without ARM64 rates
RATES = RegionPrices(
    nat_gateway_hour=0.045,
    nat_gateway_gb=0.05,
    alb_hour=0.0225,
    alb_lcu_hour=0.008,
    fargate_vcpu_hour=0.04,
    fargate_gb_hour=0.004,
    public_ipv4_hour=0.005,
    logs_ingestion_gb=0.5,
    alarm_standard_metric_month=0.1,
    alarm_high_resolution_metric_month=0.3,
    dashboard_month=3.0,
    kms_key_month=1.0,
    fargate_arm_vcpu_hour=0.032,
    fargate_arm_gb_hour=0.0035,
)
TABLE = PriceTable(
    as_of="2026-11-30",
    source="the test's own table",
    currency="USD",
    hours_per_month=730,
    # 10 GB through each NAT gateway, 2 LCUs per load balancer, 1.5 GB of logs per log group.
    assumptions=Assumptions(nat_gb_per_gateway_month=10, alb_lcus_per_hour=2, log_gb_per_group_month=1.5),
    regions={
        REGION: RATES,
        NO_ARM_REGION: dataclasses.replace(RATES, fargate_arm_vcpu_hour=None, fargate_arm_gb_hour=None),
    },
)


# ------------------------------------------------------------------------------- plan JSON builders


def resource(type_: str, label: str, /, **values: Any) -> dict[str, Any]:
    return {"address": f"{type_}.{label}", "mode": "managed", "type": type_, "name": label, "values": values}


def task_definition(family: str, cpu: str = "256", memory: str = "512", arch: str = "X86_64") -> dict[str, Any]:
    return resource(
        "aws_ecs_task_definition",
        family,
        family=family,
        cpu=cpu,
        memory=memory,
        requires_compatibilities=["FARGATE"],
        runtime_platform=[{"cpu_architecture": arch, "operating_system_family": "LINUX"}],
    )


# As this project sets it: one task on FARGATE first, the rest by weight, FARGATE_SPOT weighted 0.
ON_DEMAND = [
    {"capacity_provider": "FARGATE", "base": 1, "weight": 1},
    {"capacity_provider": "FARGATE_SPOT", "base": 0, "weight": 0},
]


def service(
    name: str, desired: int = 2, *, strategy: list[dict[str, Any]] | None = None, public_ip: bool = False
) -> dict[str, Any]:
    return resource(
        "aws_ecs_service",
        name,
        name=name,
        desired_count=desired,
        launch_type="",
        capacity_provider_strategy=ON_DEMAND if strategy is None else strategy,
        network_configuration=[{"assign_public_ip": public_ip, "subnets": ["subnet-a", "subnet-b"]}],
    )


def load_balancer(
    name: str = "alb", *, internal: bool = False, subnets: int = 2, kind: str = "application"
) -> dict[str, Any]:
    return resource(
        "aws_lb",
        name,
        load_balancer_type=kind,
        internal=internal,
        subnets=[f"subnet-{i}" for i in range(subnets)],
    )


def alarm(name: str, period: int | None = 60, **values: Any) -> dict[str, Any]:
    return resource("aws_cloudwatch_metric_alarm", name, alarm_name=name, period=period, **values)


def plan(prior: list[dict[str, Any]] | None, planned: list[dict[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {"format_version": "1.2", "planned_values": {"root_module": {"resources": planned}}}
    if prior is not None:
        document["prior_state"] = {"format_version": "1.0", "values": {"root_module": {"resources": prior}}}
    return document


def lines(result: Estimate) -> dict[str, Line]:
    return {line.item: line for line in result.lines}


def priced(resources: list[dict[str, Any]], region: str = REGION) -> dict[str, Line]:
    return lines(estimate(resources, region, TABLE))


def check(line: Line, quantity: float, unit: str, monthly_usd: float) -> None:
    assert (line.quantity, line.unit) == (quantity, unit)
    assert line.monthly_usd == pytest.approx(monthly_usd)


# --------------------------------------------------------------------------------- each priced item


def test_nat_gateways_are_priced_by_the_hour_and_by_the_assumed_data() -> None:
    result = priced([resource("aws_nat_gateway", "a"), resource("aws_nat_gateway", "b")])

    # 2 NAT gateways x 730 h = 1460 gateway-hours x $0.045 = $65.70
    check(result["NAT gateway hours"], 1460, "gateway-hours/month", 65.70)
    # 2 gateways x 10 GB assumed = 20 GB x $0.05 = $1.00
    check(result["NAT gateway data processed (assumed)"], 20, "GB/month", 1.00)


def test_an_internet_facing_application_load_balancer_costs_hours_lcus_and_an_address_per_zone() -> None:
    result = priced([load_balancer(subnets=2)])

    # 730 h x $0.0225 = $16.425
    assert result["Load balancer hours"].monthly_usd == pytest.approx(16.425)
    # 2 LCUs assumed x 730 h = 1460 LCU-hours x $0.008 = $11.68
    assert result["Load balancer LCUs (assumed)"].quantity == 1460
    assert result["Load balancer LCUs (assumed)"].monthly_usd == pytest.approx(11.68)
    # one public address per subnet: 2 x 730 h = 1460 address-hours x $0.005 = $7.30
    assert result["Public IPv4 addresses"].quantity == 1460
    assert result["Public IPv4 addresses"].monthly_usd == pytest.approx(7.30)


def test_an_internal_load_balancer_holds_no_public_address() -> None:
    result = priced([load_balancer(internal=True)])

    assert result["Load balancer hours"].monthly_usd == pytest.approx(16.425)
    assert "Public IPv4 addresses" not in result


def test_a_network_load_balancer_is_named_as_not_priced() -> None:
    result = estimate([load_balancer("nlb", kind="network")], REGION, TABLE)

    assert result.lines == ()
    assert result.notes == (
        "aws_lb.nlb: a network load balancer is not priced (the table has application load balancers)",
    )


def test_a_load_balancer_whose_subnets_are_unknown_says_its_addresses_are_not_counted() -> None:
    balancer = resource("aws_lb", "alb", load_balancer_type="application", internal=False)

    result = estimate([balancer], REGION, TABLE)

    assert "Public IPv4 addresses" not in lines(result)
    assert result.notes == (
        "aws_lb.alb: its subnets are not known in this plan, so its public IPv4 addresses are not counted",
    )


def test_each_elastic_ip_is_a_public_address() -> None:
    result = priced([resource("aws_eip", "nat", domain="vpc")])

    # 1 address x 730 h x $0.005 = $3.65
    check(result["Public IPv4 addresses"], 730, "address-hours/month", 3.65)


def test_a_fargate_service_costs_its_task_size_times_its_desired_count() -> None:
    result = priced([task_definition("prod-store2018-account"), service("prod-store2018-account", desired=2)])

    # cpu 256 = 0.25 vCPU x 2 tasks x 730 h = 365 vCPU-hours x $0.04 = $14.60
    check(result["Fargate vCPU"], 365, "vCPU-hours/month", 14.60)
    # memory 512 MiB = 0.5 GB x 2 tasks x 730 h = 730 GB-hours x $0.004 = $2.92
    check(result["Fargate memory"], 730, "GB-hours/month", 2.92)


def test_a_service_is_matched_to_the_task_definition_of_its_own_family() -> None:
    result = estimate(
        [
            task_definition("prod-store2018-account", cpu="256", memory="512"),
            task_definition("prod-store2018-store2018", cpu="1024", memory="2048"),
            service("prod-store2018-store2018", desired=1),
        ],
        REGION,
        TABLE,
    )

    # the store2018 task: 1024 = 1 vCPU x 1 task x 730 h = 730 vCPU-hours x $0.04 = $29.20;
    # 2048 MiB = 2 GB x 730 h = 1460 GB-hours x $0.004 = $5.84 (the account task would give 182.5 and 365)
    assert lines(result)["Fargate vCPU"].monthly_usd == pytest.approx(29.20)
    assert lines(result)["Fargate memory"].quantity == 1460
    assert result.notes == ()


def test_a_service_without_a_task_definition_in_the_same_state_is_named_not_guessed() -> None:
    result = estimate([task_definition("prod-store2018-account"), service("prod-store2018-cart")], REGION, TABLE)

    assert "Fargate vCPU" not in lines(result)
    assert result.notes == (
        "ECS service prod-store2018-cart: no task definition of family prod-store2018-cart in the same state, "
        "so its Fargate vCPU and memory are not priced",
    )


def test_a_service_scaled_to_zero_costs_nothing() -> None:
    result = priced([task_definition("prod-store2018-account"), service("prod-store2018-account", desired=0)])

    # 0 tasks x 0.25 vCPU x 730 h = 0 vCPU-hours: $0.00
    assert result["Fargate vCPU"].quantity == 0
    assert result["Fargate vCPU"].monthly_usd == 0
    assert result["Fargate memory"].monthly_usd == 0


def test_arm64_tasks_are_priced_at_the_arm64_rates() -> None:
    result = priced([task_definition("svc", arch="ARM64"), service("svc", desired=2)])

    # 0.25 vCPU x 2 x 730 h = 365 vCPU-hours x $0.032 = $11.68; 0.5 GB x 2 x 730 = 730 GB-hours x $0.0035 = $2.555
    assert result["Fargate vCPU (ARM64)"].monthly_usd == pytest.approx(11.68)
    assert result["Fargate memory (ARM64)"].monthly_usd == pytest.approx(2.555)
    assert "Fargate vCPU" not in result


def test_arm64_tasks_in_a_region_without_arm64_rates_are_named_not_priced() -> None:
    result = estimate([task_definition("svc", arch="ARM64"), service("svc")], NO_ARM_REGION, TABLE)

    assert result.lines == ()
    assert result.notes == ("ECS service svc: ARM64 Fargate is not priced (the table has no ARM64 rates here)",)


def test_tasks_with_a_public_ip_each_hold_an_address() -> None:
    result = priced([task_definition("svc"), service("svc", desired=3, public_ip=True)])

    # 3 tasks x 730 h = 2190 address-hours x $0.005 = $10.95
    assert result["Public IPv4 addresses"].quantity == 2190
    assert result["Public IPv4 addresses"].monthly_usd == pytest.approx(10.95)


def test_spot_tasks_are_split_out_by_base_and_weight_and_named_not_priced() -> None:
    half_spot = [
        {"capacity_provider": "FARGATE", "base": 1, "weight": 1},
        {"capacity_provider": "FARGATE_SPOT", "base": 0, "weight": 1},
    ]

    result = estimate([task_definition("svc"), service("svc", desired=3, strategy=half_spot)], REGION, TABLE)

    # base: 1 task on FARGATE; the other 2 split 1:1, so FARGATE runs 2 and FARGATE_SPOT 1.
    # 2 tasks x 0.25 vCPU x 730 h = 365 vCPU-hours x $0.04 = $14.60
    assert lines(result)["Fargate vCPU"].monthly_usd == pytest.approx(14.60)
    assert result.notes == (
        "ECS service svc: 1 of its 3 tasks run on FARGATE_SPOT, which is not priced "
        "(the table has on-demand Fargate only)",
    )


def test_log_groups_are_priced_at_the_assumed_ingestion() -> None:
    result = priced([resource("aws_cloudwatch_log_group", name) for name in ("a", "b", "c")])

    # 3 groups x 1.5 GB assumed = 4.5 GB x $0.50 = $2.25
    check(result["CloudWatch Logs ingestion (assumed)"], 4.5, "GB/month", 2.25)


def test_alarms_are_priced_per_metric_at_their_resolution() -> None:
    metric_math = alarm(
        "error_rate",
        period=None,
        metric_query=[
            {"id": "errors", "metric": [{"metric_name": "HTTPCode_Target_5XX_Count", "period": 60}]},
            {"id": "requests", "metric": [{"metric_name": "RequestCount", "period": 60}]},
            {"id": "rate", "expression": "errors / requests", "return_data": True},
        ],
    )

    result = priced([alarm("cpu"), alarm("memory", period=300), alarm("fast", period=10), metric_math])

    # standard: cpu + memory + the 2 metrics the metric-math alarm reads = 4 x $0.10 = $0.40
    assert result["CloudWatch alarms, standard resolution"].quantity == 4
    assert result["CloudWatch alarms, standard resolution"].monthly_usd == pytest.approx(0.40)
    # high resolution (period 10 s < 60 s): 1 x $0.30 = $0.30
    assert result["CloudWatch alarms, high resolution"].monthly_usd == pytest.approx(0.30)


def test_dashboards_and_kms_keys_are_priced_per_month() -> None:
    result = priced(
        [
            resource("aws_cloudwatch_dashboard", "one"),
            resource("aws_cloudwatch_dashboard", "two"),
            resource("aws_kms_key", "topic"),
            resource("aws_kms_key", "exec"),
        ]
    )

    # 2 dashboards x $3 = $6 (the free tier of 3 is ignored); 2 keys x $1 = $2
    assert result["CloudWatch dashboards"] == Line("CloudWatch dashboards", 2, "dashboards", 6.0)
    assert result["KMS keys"] == Line("KMS keys", 2, "keys", 2.0)


def test_the_total_is_the_sum_of_the_lines() -> None:
    result = estimate([resource("aws_nat_gateway", "a"), resource("aws_kms_key", "k")], REGION, TABLE)

    # $32.85 (730 h x $0.045) + $0.50 (10 GB x $0.05) + $1.00 (one key) = $34.35
    assert result.total == pytest.approx(34.35)


def test_an_unpriced_region_has_no_lines_and_no_total() -> None:
    result = estimate([resource("aws_nat_gateway", "a")], "eu-central-1", TABLE)

    assert (result.priced, result.lines, result.total) == (False, (), None)


# ------------------------------------------------------------------------------ reading the plan JSON


def test_state_resources_flattens_child_modules_and_leaves_data_sources_out() -> None:
    values = {
        "root_module": {
            "resources": [
                resource("aws_kms_key", "root"),
                {"address": "data.aws_region.current", "mode": "data", "type": "aws_region", "values": {}},
            ],
            "child_modules": [
                {
                    "address": "module.a",
                    "resources": [resource("aws_eip", "a")],
                    "child_modules": [
                        {"address": "module.a.module.b", "resources": [resource("aws_nat_gateway", "b")]}
                    ],
                }
            ],
        }
    }

    assert [r["address"] for r in state_resources(values)] == [
        "aws_kms_key.root",
        "aws_eip.a",
        "aws_nat_gateway.b",
    ]
    assert state_resources(None) == []
    assert state_resources({}) == []


# ------------------------------------------------------------------------------------------ the change


def test_a_new_workspace_costs_nothing_before() -> None:
    change = cost_change(plan(None, [resource("aws_nat_gateway", "a")]), REGION, TABLE)

    # before: no prior state, $0; after: 730 h x $0.045 = $32.85 + 10 GB x $0.05 = $0.50
    assert change.before.total == 0
    assert change.after.total == pytest.approx(33.35)
    assert change.total_change == pytest.approx(33.35)


def test_a_destroy_costs_nothing_after() -> None:
    destroy = {
        "prior_state": {"values": {"root_module": {"resources": [resource("aws_kms_key", "k")]}}},
        "planned_values": {"root_module": {}},
    }

    change = cost_change(destroy, REGION, TABLE)

    # before: 1 key x $1 = $1.00; after: nothing
    assert (change.before.total, change.after.total, change.total_change) == (1.0, 0, -1.0)
    assert [(i.item, i.before_usd, i.after_usd, i.change_usd) for i in change.items] == [("KMS keys", 1.0, 0.0, -1.0)]


def test_the_change_column_is_signed() -> None:
    # staging grows from 1 NAT gateway to 2, drops its dashboard and keeps its key.
    before = [resource("aws_nat_gateway", "a"), resource("aws_cloudwatch_dashboard", "d"), resource("aws_kms_key", "k")]
    after = [resource("aws_nat_gateway", "a"), resource("aws_nat_gateway", "b"), resource("aws_kms_key", "k")]

    text = markdown(cost_change(plan(before, after), REGION, TABLE))

    # NAT hours: 1 x 730 x $0.045 = $32.85 → 2 x = $65.70, +32.85; data: 10 GB x $0.05 = $0.50 → $1.00, +0.50
    assert "| NAT gateway hours | 32.85 | 65.70 | +32.85 |" in text
    assert "| NAT gateway data processed (assumed) | 0.50 | 1.00 | +0.50 |" in text
    assert "| CloudWatch dashboards | 3.00 | 0.00 | -3.00 |" in text
    assert "| KMS keys | 1.00 | 1.00 | 0.00 |" in text
    # total: 32.85 + 0.50 + 3 + 1 = $37.35 → 65.70 + 1.00 + 1 = $67.70, +30.35
    assert "| **Total** | **37.35** | **67.70** | **+30.35** |" in text


def test_the_markdown_lists_the_rows_in_a_fixed_order_and_ends_with_what_is_not_counted() -> None:
    text = markdown(
        cost_change(plan(None, [resource("aws_kms_key", "k"), resource("aws_nat_gateway", "a")]), REGION, TABLE)
    )

    table_rows = [row for row in text.splitlines() if row.startswith("| ")]
    assert table_rows == [
        "| Item | Before (USD/month) | After (USD/month) | Change (USD/month) |",
        "| NAT gateway hours | 0.00 | 32.85 | +32.85 |",
        "| NAT gateway data processed (assumed) | 0.00 | 0.50 | +0.50 |",
        "| KMS keys | 0.00 | 1.00 | +1.00 |",
        "| **Total** | **0.00** | **34.35** | **+34.35** |",
    ]
    assert "Not counted: " + " ".join(NOT_COUNTED) in text
    assert "Prices: the table dated 2026-11-30. Source: the test's own table" in text
    assert "Assumed: 10 GB a month through each NAT gateway, 2 LCU per load balancer, 1.5 GB of logs" in text


def test_the_markdown_names_what_is_in_the_plan_but_not_priced() -> None:
    text = markdown(cost_change(plan(None, [service("prod-store2018-cart")]), REGION, TABLE))

    assert (
        "- ECS service prod-store2018-cart: no task definition of family prod-store2018-cart in the same state, "
        "so its Fargate vCPU and memory are not priced" in text
    )


def test_an_unpriced_region_says_so_and_shows_no_table() -> None:
    change = cost_change(plan(None, [resource("aws_nat_gateway", "a")]), "eu-central-1", TABLE)

    assert (change.priced, change.total_change) == (False, None)
    assert markdown(change) == (
        "No prices for region eu-central-1 in the price table dated 2026-11-30 (it has us-east-1, us-west-2): "
        "the cost is not estimated.\n"
    )
    assert as_json(change)["total"] is None


def test_as_json_carries_the_same_figures() -> None:
    change = cost_change(plan([resource("aws_kms_key", "k")], [resource("aws_nat_gateway", "a")]), REGION, TABLE)

    report = as_json(change)

    assert report["items"] == [
        {
            "item": "NAT gateway hours",
            "unit": "gateway-hours/month",
            "before_quantity": 0.0,
            "after_quantity": 730.0,
            "before_usd": 0.0,
            "after_usd": 32.85,
            "change_usd": 32.85,
        },
        {
            "item": "NAT gateway data processed (assumed)",
            "unit": "GB/month",
            "before_quantity": 0.0,
            "after_quantity": 10.0,
            "before_usd": 0.0,
            "after_usd": 0.5,
            "change_usd": 0.5,
        },
        {
            "item": "KMS keys",
            "unit": "keys",
            "before_quantity": 1.0,
            "after_quantity": 0.0,
            "before_usd": 1.0,
            "after_usd": 0.0,
            "change_usd": -1.0,
        },
    ]
    # $1.00 → $33.35: +$32.35
    assert report["total"] == {"before_usd": 1.0, "after_usd": 33.35, "change_usd": 32.35}
    assert (report["region"], report["priced"], report["as_of"], report["currency"]) == (
        REGION,
        True,
        "2026-11-30",
        "USD",
    )
    assert report["not_counted"] == list(NOT_COUNTED)
    json.dumps(report)  # plain data


# ------------------------------------------------------------------------------------- the price file


def test_the_real_price_table_loads_and_covers_the_projects_region() -> None:
    from store2018.environments import project

    table = load_prices()

    assert table.as_of == "2026-11-30"
    assert project().region in table.regions
    # the project's region, spot-checked against the figures the sources give for it
    us_west_2 = table.regions["us-west-2"]
    assert (us_west_2.nat_gateway_hour, us_west_2.fargate_vcpu_hour, us_west_2.public_ipv4_hour) == (
        0.045,
        0.04048,
        0.005,
    )


def write_table(tmp_path: Path, change: Any) -> Path:
    data = json.loads(PRICES_FILE.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_table_missing_a_price_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_table(tmp_path, lambda data: data["regions"]["us-west-2"].pop("alb_lcu_hour"))

    with pytest.raises(PriceTableError, match=r"regions\.us-west-2 has no price 'alb_lcu_hour'"):
        load_prices(path)


def test_a_negative_price_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_table(tmp_path, lambda data: data["regions"]["us-east-1"].update(kms_key_month=-1))

    with pytest.raises(PriceTableError, match=r"'regions\.us-east-1\.kms_key_month' is -1: it must be a number >= 0"):
        load_prices(path)


def test_a_misspelt_price_key_is_refused(tmp_path: Path) -> None:
    path = write_table(tmp_path, lambda data: data["regions"]["us-west-2"].update(alb_lcu_hr=0.008))

    with pytest.raises(PriceTableError, match=r"regions\.us-west-2 has an unknown key 'alb_lcu_hr'"):
        load_prices(path)


def test_a_missing_assumption_and_a_bad_date_are_refused(tmp_path: Path) -> None:
    no_lcus = write_table(tmp_path, lambda data: data["assumptions"].pop("alb_lcus_per_hour"))
    with pytest.raises(PriceTableError, match=r"assumptions has no 'alb_lcus_per_hour'"):
        load_prices(no_lcus)

    bad_date = write_table(tmp_path, lambda data: data.update(as_of="30/11/2026"))
    with pytest.raises(PriceTableError, match=r"'as_of' is '30/11/2026': give the date the prices were read"):
        load_prices(bad_date)


def test_half_of_the_arm64_prices_is_refused(tmp_path: Path) -> None:
    path = write_table(tmp_path, lambda data: data["regions"]["us-east-1"].pop("fargate_arm_gb_hour"))

    with pytest.raises(PriceTableError, match=r"has 'fargate_arm_vcpu_hour' but no 'fargate_arm_gb_hour'"):
        load_prices(path)
