"""The service catalog: one declaration per service drives every per-service resource."""

from __future__ import annotations

import json
from typing import Any

from conftest import SETTINGS, settings_with, synth
from test_service import PER_SERVICE

from store2018.settings import FARGATE_SIZES, ServiceSpec

PAYMENT = ServiceSpec(
    image="example/paymentservice",
    discovery_name="api-payment",
    health_check_path="/api/healthcheck",
    api_base_path="/api",
    public_paths=("/api/payments*",),
)


def addresses(template: dict[str, Any], block: str) -> dict[str, Any]:
    return {f"{t}.{name}": body for t, named in template.get(block, {}).items() for name, body in named.items()}


def test_the_catalog_is_the_courses_four_services() -> None:
    assert {
        name: (s.image, s.container_port, s.health_check_path, s.discovery_name)
        for name, s in SETTINGS.services.items()
    } == {
        "account": ("jeremycookdev/accountservice", 80, "/api/healthcheck", "api-account"),
        "inventory": ("jeremycookdev/inventoryservice", 80, "/api/healthcheck", "api-inventory"),
        "shopping": ("jeremycookdev/shoppingservice", 80, "/api/healthcheck", "api-shopping"),
        "store2018": ("jeremycookdev/store2018", 80, "/healthcheck", "app-store2018"),
    }
    assert {(s.cpu, s.memory_mib) for s in SETTINGS.services.values()} == {(256, 512)}  # the course's task size
    assert [name for name, s in SETTINGS.services.items() if s.default_route] == ["store2018"]


def test_a_fifth_service_adds_its_resources_and_changes_no_existing_one(template: dict[str, Any]) -> None:
    grown = json.loads(synth(settings_with(services={**SETTINGS.services, "payment": PAYMENT})))
    before, after = addresses(template, "resource"), addresses(grown, "resource")
    (dashboard,) = (a for a in before if a.startswith("aws_cloudwatch_dashboard."))

    assert before.keys() <= after.keys(), "an existing resource address changed"
    changed = [a for a in before if before[a] != after[a]]
    # The dashboard is the one resource that shows every service: it gains a row.
    assert changed == [dashboard] == [a for a in before if a.startswith("aws_cloudwatch_dashboard.")], changed
    assert after[dashboard]["dashboard_body"].count('"payment: ') == 4

    added = {a.split(".")[0] + "." + a.split(".")[1].rsplit("_", 1)[0] for a in after.keys() - before.keys()}
    expected = {f"{t}.service_payment_{construct_id}" for t, ids in PER_SERVICE.items() for construct_id in ids}
    expected |= {"aws_lb_target_group.load_balancer_target_payment", "aws_lb_listener_rule.load_balancer_rule_payment"}
    alarms = ("target_5xx", "unhealthy_hosts", "response_time", "running_tasks", "cpu", "memory")
    expected |= {f"aws_cloudwatch_metric_alarm.service_payment_alarms_{alarm}" for alarm in alarms}
    assert added == expected

    assert addresses(template, "data").keys() < addresses(grown, "data").keys()
    for name, environment in grown["locals"]["environments"].items():
        assert environment["services"]["payment"]["min_tasks"] == SETTINGS.environments[name].tasks.minimum
    assert "payment" in grown["output"]["service_names"]["value"]


def test_fargate_sizes_match_the_documented_table() -> None:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
    assert FARGATE_SIZES[256] == (512, 1024, 2048)
    assert (FARGATE_SIZES[512][0], FARGATE_SIZES[512][-1], len(FARGATE_SIZES[512])) == (1024, 4096, 4)
    assert (FARGATE_SIZES[4096][0], FARGATE_SIZES[4096][-1], len(FARGATE_SIZES[4096])) == (8192, 30720, 23)
    assert (FARGATE_SIZES[16384][0], FARGATE_SIZES[16384][-1]) == (32768, 122880)
