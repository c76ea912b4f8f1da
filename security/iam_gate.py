"""The gate's own IAM rule: what IAM cannot hold, each workspace's saved plan is refused for.

IAM has no condition key that inspects the trust policy a `CreateRole` or `UpdateAssumeRolePolicy` carries,
and a boundary limits a role without saying whose resources its policies name. So, over the plan of one
workspace of the main stack (`terraform show -json`), this rule refuses (checkov_gate.py runs it on every
plan it scans, in the same report; the tests run it too):

- a role whose trust policy names any principal but the AWS services the stack's roles are for
  (`TRUSTED_SERVICES`: ECS tasks, VPC Flow Logs), or any action but `sts:AssumeRole`, or is unknown at plan;
- a role without the workspace's own boundary when the pipeline is on (some role carries one), or with
  another boundary;
- a managed policy of the stack's own, or one attached to a role (its document is not in the plan);
- any permission document (inline role policies, policy documents) that allows another workspace's
  resources: its secrets and their keys (from the environments table), keys tagged with its name, its
  log groups and roles, through the evaluator (security/iam_policy.py), or that names its resources or
  boundary at all.

Values unknown at plan (the ARNs of resources the plan creates) are left out: they are the workspace's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from security.iam_policy import Request, evaluate, from_terraform, statements
from store2018.pipeline_policies import TRUSTED_SERVICES, boundary_name

RULE = "STORE2018_IAM"
# A key's id the probes use: any key id matches the policies' `key/*`.
PROBE_KEY = "00000000-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Target:
    """The workspace whose plan is checked, and what the synthesis says of every workspace."""

    workspace: str
    project: str
    table: dict[str, dict[str, Any]]  # the synthesised environments table (`locals.environments`)


def _changes(plan: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(address, type, values after the plan, which of them are unknown) of everything the plan keeps."""
    for change in plan.get("resource_changes", []):
        if change["change"]["actions"] == ["delete"]:
            continue
        yield (change["address"], change["type"], change["change"].get("after") or {},
               change["change"].get("after_unknown") or {})  # fmt: skip
    for resource in plan.get("prior_state", {}).get("values", {}).get("root_module", {}).get("resources", []):
        if resource.get("mode") == "data":  # data sources read while planning
            yield resource["address"], resource["type"], resource.get("values") or {}, {}


def _account_and_region(plan: dict[str, Any]) -> tuple[str, str]:
    account = next((values["account_id"] for _, kind, values, _ in _changes(plan)
                    if kind == "aws_caller_identity" and values.get("account_id")), "")  # fmt: skip
    provider = plan.get("configuration", {}).get("provider_config", {}).get("aws", {})
    region = str(provider.get("expressions", {}).get("region", {}).get("constant_value", ""))
    return account, region


def _probes(target: Target, account: str, region: str) -> list[tuple[str, Request]]:
    """Requests on each other workspace's resources that no policy of this workspace may allow."""
    own = target.table[target.workspace]["services"].values()
    mine = {arn for service in own for key in ("secret_parameter_arns", "secret_manager_arns", "secret_key_arns")
            for arn in service[key]}  # fmt: skip
    found = []
    for other, values in target.table.items():
        if other == target.workspace:
            continue
        prefix = f"{other}-{target.project}"
        for service in values["services"].values():
            found += [(f"{other}'s parameter {arn}", Request("ssm:GetParameters", arn))
                      for arn in service["secret_parameter_arns"] if arn not in mine]  # fmt: skip
            found += [(f"{other}'s secret {arn}", Request("secretsmanager:GetSecretValue", arn))
                      for arn in service["secret_manager_arns"] if arn not in mine]  # fmt: skip
            found += [(f"{other}'s secret key {arn}", Request("kms:Decrypt", arn, {"kms:ViaService": f"ssm.{region}."
                                                                                  "amazonaws.com"}))
                      for arn in service["secret_key_arns"] if arn not in mine]  # fmt: skip
        tags = {"aws:ResourceTag/Project": target.project, "aws:ResourceTag/Workspace": other}
        key = f"arn:aws:kms:{region}:{account}:key/{PROBE_KEY}"
        found += [
            (f"{other}'s keys (tagged Workspace={other})", Request("kms:Decrypt", key, tags)),
            (f"{other}'s keys (tagged Workspace={other})", Request("kms:ScheduleKeyDeletion", key, tags)),
            (f"{other}'s log groups", Request("logs:PutLogEvents", f"arn:aws:logs:{region}:{account}:log-group:/ecs/"
                                              f"{prefix}/x:log-stream:y")),
            (f"{other}'s roles", Request("iam:PassRole", f"arn:aws:iam::{account}:role/{prefix}-x")),
            (f"{other}'s roles", Request("iam:PutRolePolicy", f"arn:aws:iam::{account}:role/{prefix}-x")),
        ]  # fmt: skip
    return found


def _names_of_others(target: Target) -> list[re.Pattern[str]]:
    found = []
    for other in target.table:
        if other != target.workspace:
            found += [
                re.compile(rf"(?<![a-z0-9]){re.escape(other)}-{re.escape(target.project)}[-/]"),
                re.compile(rf"{re.escape(boundary_name(target.project, other))}(?![a-z0-9])"),
            ]
    return found


def _document(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _trust_refusals(address: str, document: dict[str, Any]) -> list[str]:
    refused = []
    for statement in statements(document):
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) and set(principal) == {"Service"} else None
        named = [services] if isinstance(services, str) else services
        if "NotPrincipal" in statement or named is None or not set(named) <= set(TRUSTED_SERVICES):
            refused.append(
                f"{address}: its trust policy names {json.dumps(principal or statement.get('NotPrincipal'))}"
                f": the stack's roles may trust only {', '.join(TRUSTED_SERVICES)} (IAM cannot refuse "
                "it: no condition key inspects a trust policy). Fix: trust the AWS service the role is for"
            )
        actions = statement.get("Action")
        if (actions if isinstance(actions, list) else [actions]) != ["sts:AssumeRole"] or statement.get("Effect") != (
            "Allow"
        ):
            refused.append(f"{address}: its trust policy allows {json.dumps(actions)}: only sts:AssumeRole. Fix: "
                           "trust a service with sts:AssumeRole")  # fmt: skip
    return refused


def plan_refusals(plan: dict[str, Any], target: Target) -> tuple[int, list[str]]:
    """How many IAM documents and roles were checked, and why the plan is refused (empty: it is not)."""
    account, region = _account_and_region(plan)
    probes, others = _probes(target, account, region), _names_of_others(target)
    boundary = f":policy/{boundary_name(target.project, target.workspace)}"
    refused: list[str] = []
    documents: list[tuple[str, dict[str, Any]]] = []
    roles: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for address, kind, after, unknown in _changes(plan):
        if kind == "aws_iam_role":
            roles.append((address, after, unknown))
            trust = _document(after.get("assume_role_policy"))
            if trust is None:
                refused.append(f"{address}: its trust policy is unknown at plan; it must be known to be checked. Fix: "
                               "build it from values known before apply (service_trust_policy)")  # fmt: skip
            else:
                refused += _trust_refusals(address, trust)
        elif kind in ("aws_iam_policy", "aws_iam_role_policy_attachment", "aws_iam_policy_attachment",
                      "aws_iam_user", "aws_iam_user_policy", "aws_iam_group", "aws_iam_group_policy"):  # fmt: skip
            refused.append(f"{address}: the main stack creates no {kind}: a managed policy's document is out of this "
                           "rule's sight, and users and groups are out of the pipeline's reach. Fix: use an inline "
                           "role policy (aws_iam_role_policy)")  # fmt: skip
        elif kind == "aws_iam_role_policy" and _document(after.get("policy")):
            documents.append((address, _document(after.get("policy")) or {}))
        elif kind == "aws_iam_policy_document":
            known = after.get("json")
            parsed = _document(known) if known else from_terraform(
                [{k: ([v for v in value if v is not None] if isinstance(value, list) else value)
                  for k, value in s.items() if value is not None} for s in after.get("statement") or []])  # fmt: skip
            if parsed is not None:
                documents.append((address, parsed))
    # The pipeline is on when some role carries a boundary: then every role carries the workspace's own.
    bounded = [after.get("permissions_boundary") for _, after, _ in roles]
    if any(bounded) or any(unknown.get("permissions_boundary") for _, _, unknown in roles):
        for address, after, unknown in roles:
            found = after.get("permissions_boundary")
            if unknown.get("permissions_boundary") or not isinstance(found, str) or not found.endswith(boundary):
                refused.append(f"{address}: its permissions boundary is {found!r}: every role of workspace "
                               f"{target.workspace} carries arn:aws:iam::<account>{boundary}. Fix: "
                               "permissions_boundary=workload_boundary_arn(...)")  # fmt: skip
    for address, document in documents:
        # Statements whose resources are all unknown name what this plan creates: the workspace's own.
        grants = [s for s in statements(document) if "Principal" not in s and "NotPrincipal" not in s
                  and ("Resource" in s or "NotResource" in s)]  # fmt: skip
        if not grants:
            continue  # a trust or key policy: its principals are checked on the role, its keys are the workspace's
        policy = {"Version": "2012-10-17", "Statement": grants}
        reached = sorted({what for what, probe in probes if evaluate(probe, [policy]).allowed})
        if reached:
            refused.append(f"{address}: allows {'; '.join(reached)}: workspace {target.workspace}'s policies reach "
                           "only its own resources. Fix: name the workspace's own")  # fmt: skip
        text = json.dumps(policy)
        named = sorted({match.group(0) for pattern in others for match in pattern.finditer(text)})
        if named:
            refused.append(f"{address}: names {', '.join(named)}: another workspace's resources. Fix: use "
                           "`workspace.resource_name(...)`, which names the selected workspace's")  # fmt: skip
    return len(documents) + len(roles), refused
