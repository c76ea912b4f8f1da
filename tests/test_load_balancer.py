"""The load balancer construct, asserted on the synthesised JSON (what is the same in every workspace)."""

from __future__ import annotations

import json
from typing import Any

from conftest import SETTINGS, ref, resource_named, resources, settings_with, synth

API_PATHS = {"account": ["/api/consumers*"], "inventory": ["/api/products*"], "shopping": ["/api/cart*"]}


def test_alb_is_internet_facing_in_the_public_subnets(template: dict[str, Any]) -> None:
    (_, alb), *more = resources(template, "aws_lb").items()
    assert not more
    public = sorted(ref("aws_subnet", k, "id") for k in resources(template, "aws_subnet") if "public" in k)
    alb_sg = ref("aws_security_group", resource_named(template, "aws_security_group", "network_alb_sg")[0], "id")
    assert alb == {
        "name": "${local.workspace}-store2018",
        "internal": False,
        "load_balancer_type": "application",
        "subnets": public,
        "security_groups": [alb_sg],
        "drop_invalid_header_fields": True,
        "enable_deletion_protection": "${local.environment.alb_deletion_protection}",
        "access_logs": {
            "enabled": "${local.environment.alb_access_logs_enabled}",
            "bucket": "${local.environment.alb_access_logs_bucket}",
            "prefix": "${local.workspace}-store2018",
        },
    }


def test_one_ip_target_group_per_exposed_service_with_its_health_check(template: dict[str, Any]) -> None:
    groups = resources(template, "aws_lb_target_group")
    assert len(groups) == 4
    for service, spec in SETTINGS.services.items():
        _, group = resource_named(template, "aws_lb_target_group", f"load_balancer_target_{service}")
        assert group["name"] == f"${{local.workspace}}-store2018-{service}"
        assert (group["target_type"], group["protocol"], group["port"]) == ("ip", "HTTP", 80)
        assert group["deregistration_delay"] == "30"
        assert group["health_check"]["path"] == spec.health_check_path
        assert group["health_check"]["matcher"] == "200"
    paths = {k.split("_")[3]: g["health_check"]["path"] for k, g in groups.items()}
    assert paths == {
        "store2018": "/healthcheck",
        "account": "/api/healthcheck",
        "inventory": "/api/healthcheck",
        "shopping": "/api/healthcheck",
    }


def test_http_forwards_to_the_front_end_or_redirects_when_https_is_on(template: dict[str, Any]) -> None:
    front_end = ref(
        "aws_lb_target_group",
        resource_named(template, "aws_lb_target_group", "load_balancer_target_store2018")[0],
        "arn",
    )
    _, http = resource_named(template, "aws_lb_listener", "load_balancer_http")
    assert (http["port"], http["protocol"]) == (80, "HTTP")
    assert http["default_action"] == [{"type": "forward", "target_group_arn": front_end}]
    assert template["locals"]["https_enabled"] == "${local.environment.https_enabled}"
    # With HTTPS, a catch-all rule on port 80, ahead of the path rules, redirects to 443.
    http_address, _ = resource_named(template, "aws_lb_listener", "load_balancer_http")
    _, redirect = resource_named(template, "aws_lb_listener_rule", "load_balancer_https_redirect")
    assert redirect == {
        "count": "${local.https_enabled ? 1 : 0}",
        "listener_arn": ref("aws_lb_listener", http_address, "arn"),
        "priority": 1,
        "action": [{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
        "condition": [{"path_pattern": {"values": ["*"]}}],
    }

    _, https = resource_named(template, "aws_lb_listener", "load_balancer_https")
    assert https["count"] == "${local.https_enabled ? 1 : 0}"
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["certificate_arn"] == "${local.environment.certificate_arn}"
    assert https["default_action"] == [{"type": "forward", "target_group_arn": front_end}]


def test_api_paths_are_routed_to_their_services_on_the_serving_listener(template: dict[str, Any]) -> None:
    rules = {k: v for k, v in resources(template, "aws_lb_listener_rule").items() if "https_redirect" not in k}
    assert len(rules) == 3
    http = resource_named(template, "aws_lb_listener", "load_balancer_http")[0]
    https = resource_named(template, "aws_lb_listener", "load_balancer_https")[0]
    assert template["locals"]["app_listener_arn"] == (
        f"${{local.https_enabled ? aws_lb_listener.{https}[0].arn : aws_lb_listener.{http}.arn}}"
    )
    priorities = []
    for service, paths in API_PATHS.items():
        _, rule = resource_named(template, "aws_lb_listener_rule", f"load_balancer_rule_{service}")
        group = resource_named(template, "aws_lb_target_group", f"load_balancer_target_{service}")[0]
        assert rule["listener_arn"] == "${local.app_listener_arn}"
        assert rule["action"] == [{"type": "forward", "target_group_arn": ref("aws_lb_target_group", group, "arn")}]
        assert rule["condition"] == [{"path_pattern": {"values": paths}}]
        priorities.append(rule["priority"])
    assert len(set(priorities)) == 3


def test_apis_can_stay_private() -> None:
    template = json.loads(synth(settings_with(expose_api_paths=False)))
    assert [k for k in resources(template, "aws_lb_listener_rule") if "https_redirect" not in k] == []
    (group,) = resources(template, "aws_lb_target_group").values()
    assert group["health_check"]["path"] == "/healthcheck"
    services = resources(template, "aws_ecs_service")
    behind_alb = [k for k, s in services.items() if "load_balancer" in s]
    assert [k.split("_")[1] for k in behind_alb] == ["store2018"]
    # The APIs still scale on CPU, but not on request count.
    policies = [p["name"] for p in resources(template, "aws_appautoscaling_policy").values()]
    assert sorted(p.split("-")[-2:][0] for p in policies if p.endswith("-requests")) == ["store2018"]


def test_no_dns_record_without_a_hosted_zone(template: dict[str, Any]) -> None:
    assert "aws_route53_record" not in template.get("resource", {})
    alb = resource_named(template, "aws_lb", "load_balancer_alb")[0]
    assert template["output"]["application_url"]["value"] == (
        f'${{format("%s://%s", local.https_enabled ? "https" : "http", aws_lb.{alb}.dns_name)}}'
    )


def test_hosted_zone_adds_an_alias_record_per_workspace() -> None:
    template = json.loads(synth(settings_with(hosted_zone_id="Z0123456789ABCDEFGHIJ")))
    alb = resource_named(template, "aws_lb", "load_balancer_alb")[0]
    record_address, record = resource_named(template, "aws_route53_record", "load_balancer_dns")
    assert record == {
        "zone_id": "Z0123456789ABCDEFGHIJ",
        "name": "${local.environment.dns_record_name}",
        "type": "A",
        "alias": {
            "name": ref("aws_lb", alb, "dns_name"),
            "zone_id": ref("aws_lb", alb, "zone_id"),
            "evaluate_target_health": True,
        },
    }
    assert f"aws_route53_record.{record_address}.fqdn" in template["output"]["application_url"]["value"]
