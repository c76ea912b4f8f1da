"""Our own security rules, for what checkov cannot see or judge in this design.

Two rule sets, both pure functions over Terraform JSON:
- `check_synthesis(document)`: the synthesised `cdk.tf.json`. Run by every synth
  (`app.py`), which refuses to publish a stack that breaks one. Security-group references
  are still visible here (`${aws_security_group.<name>.id}`), so the network rules live here.
- `check_plan(plan, workspace, project)`: one workspace's `terraform show -json` plan, where
  values are resolved and container definitions are decoded. Run by the plan tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from store2018.load_balancer import LISTENER_PORTS
from store2018.settings import SECRET_LOOKING_NAME

ANYWHERE = ("0.0.0.0/0", "::/0")
HTTPS_PORT = 443
# Tags every taggable resource carries (the provider's default_tags).
REQUIRED_TAGS = ("Project", "Workspace")


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.detail}"


def _resources(document: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, body in document.get("resource", {}).get(resource_type, {}).items():
        yield f"{resource_type}.{name}", body


def _group_ref(name: str) -> str:
    return f"${{aws_security_group.{name}.id}}"


def _rules(document: dict[str, Any], direction: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(address, security group reference, rule) for every rule of a direction ("ingress", "egress"),
    whatever resource declares it. Rules are normalised to `from_port`, `to_port`, `protocol`, `cidrs`
    and `sources` (the other groups: sources of ingress, destinations of egress)."""
    for address, rule in _resources(document, f"aws_vpc_security_group_{direction}_rule"):
        yield (
            address,
            rule.get("security_group_id", ""),
            {
                "from_port": rule.get("from_port"),
                "to_port": rule.get("to_port"),
                "protocol": rule.get("ip_protocol"),
                "cidrs": [c for c in (rule.get("cidr_ipv4"), rule.get("cidr_ipv6")) if c],
                "prefix_lists": [rule["prefix_list_id"]] if rule.get("prefix_list_id") else [],
                "sources": [rule["referenced_security_group_id"]] if rule.get("referenced_security_group_id") else [],
            },
        )
    for address, rule in _resources(document, "aws_security_group_rule"):
        if rule.get("type") == direction:
            yield address, rule.get("security_group_id", ""), _inline(rule, rule.get("security_group_id", ""))
    for kind in ("aws_security_group", "aws_default_security_group"):
        for address, group in _resources(document, kind):
            own = f"${{{address}.id}}"
            for rule in group.get(direction) or []:
                yield address, own, _inline(rule, own)


def _inline(rule: dict[str, Any], own: str) -> dict[str, Any]:
    sources = list(rule.get("security_groups") or []) + ([rule["source_security_group_id"]]
                                                         if rule.get("source_security_group_id") else [])  # fmt: skip
    if rule.get("self"):
        sources.append(own)
    return {
        "from_port": rule.get("from_port"),
        "to_port": rule.get("to_port"),
        "protocol": rule.get("protocol"),
        "cidrs": list(rule.get("cidr_blocks") or []) + list(rule.get("ipv6_cidr_blocks") or []),
        "prefix_lists": list(rule.get("prefix_list_ids") or []),
        "sources": sources,
    }


def _load_balancer_groups(document: dict[str, Any]) -> set[str]:
    return {g for _, lb in _resources(document, "aws_lb") for g in lb.get("security_groups") or []}


def _task_groups(document: dict[str, Any]) -> set[str]:
    return {
        g
        for _, service in _resources(document, "aws_ecs_service")
        for config in _as_list(service.get("network_configuration"))
        for g in config.get("security_groups") or []
    }


def _as_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def check_synthesis(document: dict[str, Any]) -> list[Violation]:
    """Rules over the synthesised stack; an empty list means it may be published."""
    found: list[Violation] = []
    lb_groups = _load_balancer_groups(document)
    task_groups = _task_groups(document)

    for address, group, rule in _rules(document, "ingress"):
        open_to_world = [c for c in rule["cidrs"] if c in ANYWHERE]
        if open_to_world:
            public_listener = (
                group in lb_groups
                and rule["protocol"] in ("tcp", "6")
                and rule["from_port"] == rule["to_port"]
                and rule["from_port"] in LISTENER_PORTS
            )
            if not public_listener:
                found.append(Violation(
                    "no-open-ingress", address,
                    f"ingress from {open_to_world[0]} (ports {rule['from_port']}-{rule['to_port']}, protocol "
                    f"{rule['protocol']}); only the load balancer's group may be open, on TCP 80 and 443",
                ))  # fmt: skip
        if group in task_groups:
            allowed = lb_groups | {group}
            strangers = [s for s in rule["sources"] if s not in allowed] + rule["cidrs"] + rule["prefix_lists"]
            if strangers:
                found.append(Violation(
                    "tasks-only-from-load-balancer", address,
                    f"the tasks' security group admits {strangers[0]}; it may admit only the load balancer's "
                    "group and itself",
                ))  # fmt: skip

    for direction in ("ingress", "egress"):
        for address, group, rule in _rules(document, direction):
            if group not in task_groups:
                continue
            single_tcp_port = rule["protocol"] in ("tcp", "6") and rule["from_port"] == rule["to_port"] is not None
            if not single_tcp_port:
                found.append(Violation(
                    "narrow-task-rules", address,
                    f"the tasks' {direction} rule covers protocol {rule['protocol']}, ports {rule['from_port']}-"
                    f"{rule['to_port']}; each task rule names one TCP port (a service's port, or 443 out)",
                ))  # fmt: skip
            elif direction == "egress" and (rule["cidrs"] or rule["prefix_lists"]) and rule["from_port"] != HTTPS_PORT:
                found.append(Violation(
                    "narrow-task-rules", address,
                    f"the tasks may reach {(rule['cidrs'] + rule['prefix_lists'])[0]} on port {rule['from_port']}; "
                    "out of the VPC only "
                    f"TCP {HTTPS_PORT} (image pulls, CloudWatch Logs, AWS APIs)",
                ))  # fmt: skip
            elif direction == "egress" and [g for g in rule["sources"] if g != group]:
                found.append(Violation(
                    "narrow-task-rules", address, "the tasks may send to another security group than their own"
                ))  # fmt: skip

    for address, service in _resources(document, "aws_ecs_service"):
        for config in _as_list(service.get("network_configuration")):
            if config.get("assign_public_ip") not in (None, False, "false"):
                found.append(Violation(
                    "no-public-ip", address,
                    f"assign_public_ip = {config.get('assign_public_ip')!r}; tasks run in private subnets "
                    "behind NAT and must not get a public IP",
                ))  # fmt: skip

    for address, service in _resources(document, "aws_ecs_service"):
        found += [Violation("rollback-alarms", address, problem) for problem in _rollback_problems(service)]

    for address, log_group in _resources(document, "aws_cloudwatch_log_group"):
        if log_group.get("retention_in_days") in (None, 0, "0"):
            found.append(Violation(
                "log-retention", address,
                "no retention_in_days: CloudWatch would keep the logs forever (and bill for them)",
            ))  # fmt: skip
    return found


def _rollback_problems(service: dict[str, Any]) -> list[str]:
    """Why an ECS service would not roll a bad deployment back on its alarms (empty: it would)."""
    alarms = _as_list(service.get("alarms"))
    if not alarms:
        return ["no `alarms` block: a deployment that raises errors would not roll back"]
    (block,) = alarms
    problems = []
    if not block.get("alarm_names"):
        problems.append("the `alarms` block names no alarm")
    for flag in ("enable", "rollback"):
        if block.get(flag) not in (True, "true"):
            problems.append(f"alarms.{flag} = {block.get(flag)!r}; it must be true")
    return problems


def _planned(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    def walk(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    yield from walk(plan.get("planned_values", {}).get("root_module", {}))


def check_plan(plan: dict[str, Any], *, workspace: str, project: str) -> list[Violation]:
    """Rules over one workspace's plan (`terraform show -json`), with every value resolved."""
    found: list[Violation] = []
    expected_tags = {"Project": project, "Workspace": workspace}
    for resource in _planned(plan):
        address: str = resource["address"]
        values: dict[str, Any] = resource.get("values") or {}
        if resource.get("mode") != "managed":
            continue
        if "tags_all" in values:
            tags = values.get("tags_all") or {}
            wrong = {k: tags.get(k) for k, v in expected_tags.items() if tags.get(k) != v}
            if wrong:
                found.append(Violation(
                    "tags", address, f"tags_all has {wrong}, expected {expected_tags} (the provider's default_tags)"
                ))  # fmt: skip
        if resource["type"] == "aws_ecs_task_definition":
            definitions = json.loads(values.get("container_definitions") or "[]")
            for container in definitions:
                for variable in container.get("environment") or []:
                    if SECRET_LOOKING_NAME.fullmatch(str(variable.get("name"))):
                        found.append(Violation(
                            "no-plain-secrets", address,
                            f"container {container.get('name')!r} has {variable.get('name')!r} in plain "
                            "`environment` (written into the task definition, the plan and the state); declare "
                            "it in the catalog's `secrets`",
                        ))  # fmt: skip
                if container.get("privileged"):
                    found.append(Violation(
                        "no-privileged-container", address,
                        f"container {container.get('name')!r} is privileged (Fargate refuses it; it would be root "
                        "on the host elsewhere)",
                    ))  # fmt: skip
        if resource["type"] == "aws_ecs_service":
            found += [Violation("rollback-alarms", address, problem) for problem in _rollback_problems(values)]
            for config in values.get("network_configuration") or []:
                if config.get("assign_public_ip"):
                    found.append(Violation("no-public-ip", address, "assign_public_ip = true"))
        if resource["type"] == "aws_cloudwatch_log_group" and not values.get("retention_in_days"):
            found.append(Violation("log-retention", address, f"retention_in_days = {values.get('retention_in_days')}"))
    return found
