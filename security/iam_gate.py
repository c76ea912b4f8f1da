"""The gate's own IAM rule: what IAM cannot hold, each workspace's saved plan is refused for.

IAM has no condition key that inspects the trust policy a `CreateRole` or `UpdateAssumeRolePolicy` carries,
and a boundary limits a role without saying whose resources its policies name. So, over the plan of one
workspace of the main stack (`terraform show -json`), this rule refuses (checkov_gate.py runs it on every
plan it scans, in the same report; the tests run it too):

- any IAM resource but roles and their inline policies (`aws_iam_role`, `aws_iam_role_policy`): a managed
  policy's document, an attachment's, a user's or a group's is out of this rule's sight;
- a role whose trust policy names any principal but the AWS services the stack's roles are for
  (`TRUSTED_SERVICES`: ECS tasks, VPC Flow Logs), or any action but `sts:AssumeRole`, or is unknown at plan;
  a resource policy (a key's, a topic's) that grants anyone but this account and AWS services;
- a role without the workspace's own boundary when the pipeline is on (some role carries one), or with
  another boundary;
- any `Allow` that could reach another workspace's resources (its secrets and their keys from the
  environments table, keys, log groups and roles by name), conditions not credited (a condition
  holds in some request), or any document that names another workspace's resources or boundary;
- an inline policy unknown at plan that is not built from a policy document the plan shows.

Values unknown at plan (the ARNs of resources the plan creates) are left out: they are the workspace's own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from security.iam_policy import action_matches, arn_matches, from_terraform, statements
from store2018.pipeline_policies import TRUSTED_SERVICES, boundary_name

RULE = "STORE2018_IAM"
# The IAM resources the main stack may create; any other is refused.
ALLOWED_IAM = ("aws_iam_role", "aws_iam_role_policy")
# An id standing for any key's: policies name keys by ARN (`key/<id>`) or pattern.
ANY_KEY = "00000000-0000-4000-8000-000000000000"
# What reads, writes or uses each kind of resource: an `Allow` of any of them on another workspace's is refused.
ACTIONS_ON = {
    "parameter": ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory",
                  "ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:LabelParameterVersion"),
    "secret": ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "secretsmanager:PutSecretValue",
               "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret", "secretsmanager:RotateSecret",
               "secretsmanager:PutResourcePolicy", "secretsmanager:DescribeSecret"),
    "key": ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion",
            "kms:DisableKey", "kms:TagResource", "kms:UntagResource", "kms:CreateAlias", "kms:UpdateAlias"),
    "log group": ("logs:GetLogEvents", "logs:FilterLogEvents", "logs:StartLiveTail", "logs:StartQuery",
                  "logs:PutLogEvents", "logs:CreateLogStream", "logs:DeleteLogGroup", "logs:DeleteLogStream",
                  "logs:PutRetentionPolicy", "logs:AssociateKmsKey", "logs:DisassociateKmsKey"),
    "role": ("iam:PassRole", "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy",
             "iam:UpdateAssumeRolePolicy", "iam:PutRolePermissionsBoundary", "iam:DeleteRole", "iam:TagRole",
             "iam:UpdateRole"),
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """The workspace whose plan is checked, and what the synthesis says of every workspace."""

    workspace: str
    project: str
    table: dict[str, dict[str, Any]]  # the synthesised environments table (`locals.environments`)


@dataclass(frozen=True)
class Reach:
    """A resource of another workspace: no `Allow` of this one may name it, with any of its service's actions."""

    what: str
    kind: str  # a key of ACTIONS_ON
    arn: str


def _data(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from _data(child)


def _changes(plan: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any], dict[str, Any]]]:
    """(address, mode, type, values after the plan, which of them are unknown) of everything the plan keeps."""
    for change in plan.get("resource_changes", []):
        if change["change"]["actions"] == ["delete"]:
            continue
        yield (change["address"], change.get("mode", "managed"), change["type"], change["change"].get("after") or {},
               change["change"].get("after_unknown") or {})  # fmt: skip
    for resource in _data(plan.get("prior_state", {}).get("values", {}).get("root_module", {})):
        if resource.get("mode") == "data":  # data sources read while planning
            yield resource["address"], "data", resource["type"], resource.get("values") or {}, {}


def _account_and_region(plan: dict[str, Any]) -> tuple[str, str]:
    account = next((values["account_id"] for _, _, kind, values, _ in _changes(plan)
                    if kind == "aws_caller_identity" and values.get("account_id")), "")  # fmt: skip
    provider = plan.get("configuration", {}).get("provider_config", {}).get("aws", {})
    region = str(provider.get("expressions", {}).get("region", {}).get("constant_value", ""))
    return account, region


def _policy_sources(plan: dict[str, Any]) -> dict[str, list[str]]:
    """What each configured resource's `policy` is built from (its references), by address without index."""
    module = plan.get("configuration", {}).get("root_module", {})
    return {r["address"]: r.get("expressions", {}).get("policy", {}).get("references", [])
            for r in module.get("resources", [])}  # fmt: skip


def _reaches(target: Target, account: str, region: str) -> list[Reach]:
    own = target.table[target.workspace]["services"].values()
    mine = {arn for service in own for key in ("secret_parameter_arns", "secret_manager_arns", "secret_key_arns")
            for arn in service[key]}  # fmt: skip
    found = []
    for other, values in target.table.items():
        if other == target.workspace:
            continue
        prefix = f"{other}-{target.project}"
        for service in values["services"].values():
            found += [Reach(f"{other}'s parameter {arn}", "parameter", arn)
                      for arn in service["secret_parameter_arns"] if arn not in mine]  # fmt: skip
            found += [Reach(f"{other}'s secret {arn}", "secret", arn)
                      for arn in service["secret_manager_arns"] if arn not in mine]  # fmt: skip
            found += [Reach(f"{other}'s secret key {arn}", "key", arn)
                      for arn in service["secret_key_arns"] if arn not in mine]  # fmt: skip
        logs = f"arn:aws:logs:{region}:{account}:log-group:"
        found += [
            Reach(f"any key (keys are named by ARN here; {other}'s are its)", "key",
                  f"arn:aws:kms:{region}:{account}:key/{ANY_KEY}"),
            Reach(f"{other}'s log groups", "log group", f"{logs}/ecs/{prefix}/x:log-stream:y"),
            Reach(f"{other}'s log groups", "log group", f"{logs}/vpc/{prefix}/x:log-stream:y"),
            Reach(f"{other}'s roles", "role", f"arn:aws:iam::{account}:role/{prefix}-x"),
        ]  # fmt: skip
    return found


def _could_allow(statement: dict[str, Any], reach: Reach) -> bool:
    """Whether an `Allow` names the resource with an action that uses it, whatever its conditions say."""
    actions = ACTIONS_ON[reach.kind]
    if "Action" in statement:
        if not any(action_matches(p, a) for p in statement["Action"] for a in actions):
            return False
    elif all(any(action_matches(p, a) for p in statement.get("NotAction", [])) for a in actions):
        return False
    if "Resource" in statement:
        return any(arn_matches(p, reach.arn) for p in statement["Resource"])
    return not any(arn_matches(p, reach.arn) for p in statement.get("NotResource", []))


def _names_of_others(target: Target) -> list[re.Pattern[str]]:
    found = []
    for other in target.table:
        if other != target.workspace:
            found += [
                re.compile(rf"(?<![a-z0-9]){re.escape(other)}-{re.escape(target.project)}(?![a-z0-9])"),
                re.compile(rf"{re.escape(boundary_name(target.project, other))}(?![a-z0-9])"),
            ]
    return found


def _document(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str) or not text.strip():
        return None
    parsed: dict[str, Any] = json.loads(text)
    return {**parsed, "Statement": [{k: v if k in ("Effect", "Sid", "Condition", "Principal") or isinstance(v, list)
                                     else [v] for k, v in s.items()} for s in statements(parsed)]}  # fmt: skip


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
        if statement.get("Action") != ["sts:AssumeRole"] or statement.get("Effect") != "Allow":
            refused.append(f"{address}: its trust policy allows {json.dumps(statement.get('Action'))}: only "
                           "sts:AssumeRole. Fix: trust a service with sts:AssumeRole")  # fmt: skip
    return refused


def _resource_policy_refusals(address: str, statement: dict[str, Any], account: str) -> list[str]:
    """A key's or topic's policy grants this account (its root or its ARNs) and AWS services, no one else."""
    if statement.get("Effect") != "Allow":
        return []
    principal = statement.get("Principal") or {}
    others = [] if isinstance(principal, dict) else [principal]
    for kind, names in principal.items() if isinstance(principal, dict) else []:
        for name in [names] if isinstance(names, str) else names:
            if kind != "Service" and not (kind == "AWS" and name.startswith(f"arn:aws:iam::{account}:")):
                others.append(f"{kind} {name}")
    if "NotPrincipal" in statement:
        others.append("NotPrincipal")
    return [f"{address}: a resource policy grants {', '.join(map(str, others))}: only this account and AWS services. "
            "Fix: grant the account's root or a service"] if others else []  # fmt: skip


def plan_refusals(plan: dict[str, Any], target: Target) -> tuple[int, list[str]]:
    """How many IAM documents and roles were checked, and why the plan is refused (empty: it is not)."""
    account, region = _account_and_region(plan)
    if not account or not region:
        return 0, ["the plan shows no data.aws_caller_identity account or no provider region: the rule cannot name "
                   "the account's resources. Fix: plan the main stack as synthesised"]  # fmt: skip
    reaches, others, sources = _reaches(target, account, region), _names_of_others(target), _policy_sources(plan)
    boundary = f":policy/{boundary_name(target.project, target.workspace)}"
    refused: list[str] = []
    documents: list[tuple[str, dict[str, Any]]] = []
    roles: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for address, mode, kind, after, unknown in _changes(plan):
        if mode == "managed" and kind.startswith("aws_iam_") and kind not in ALLOWED_IAM:
            refused.append(f"{address}: the main stack creates no {kind}, only roles and their inline policies: "
                           "another IAM resource's documents are out of this rule's sight. Fix: use an inline role "
                           "policy (aws_iam_role_policy)")  # fmt: skip
        elif kind == "aws_iam_role":
            roles.append((address, after, unknown))
            trust = _document(after.get("assume_role_policy"))
            if trust is None:
                refused.append(f"{address}: its trust policy is unknown at plan; it must be known to be checked. Fix: "
                               "build it from values known before apply (service_trust_policy)")  # fmt: skip
            else:
                refused += _trust_refusals(address, trust)
            if after.get("managed_policy_arns"):
                refused.append(f"{address}: attaches managed policies {after['managed_policy_arns']}: their documents "
                               "are out of this rule's sight. Fix: use an inline role policy")  # fmt: skip
            documents += [(f"{address} inline {p.get('name')}", d) for p in after.get("inline_policy") or []
                          if (d := _document(p.get("policy")))]  # fmt: skip
        elif kind == "aws_iam_role_policy":
            policy = _document(after.get("policy"))
            built_from = sources.get(re.sub(r"\[[^\]]*\]$", "", address), [])
            if policy is not None:
                documents.append((address, policy))
            elif not any(r.startswith("data.aws_iam_policy_document.") for r in built_from):
                refused.append(f"{address}: its policy is unknown at plan and not built from a policy document the "
                               "plan shows. Fix: build it from an aws_iam_policy_document")  # fmt: skip
        elif kind == "aws_iam_policy_document":
            known = after.get("json")
            parsed = _document(known) if known else from_terraform(
                [{k: ([v for v in value if v is not None] if isinstance(value, list) else value)
                  for k, value in s.items() if value is not None} for s in after.get("statement") or []])  # fmt: skip
            if parsed is not None:
                documents.append((address, parsed))
    # The pipeline is on when some role carries a boundary: then every role carries the workspace's own.
    if any(after.get("permissions_boundary") or unknown.get("permissions_boundary") for _, after, unknown in roles):
        for address, after, unknown in roles:
            found = after.get("permissions_boundary")
            if unknown.get("permissions_boundary") or not isinstance(found, str) or not found.endswith(boundary):
                refused.append(f"{address}: its permissions boundary is {found!r}: every role of workspace "
                               f"{target.workspace} carries arn:aws:iam::<account>{boundary}. Fix: "
                               "permissions_boundary=workload_boundary_arn(...)")  # fmt: skip
    for address, document in documents:
        granting = []
        for statement in statements(document):
            if "Principal" in statement or "NotPrincipal" in statement:
                trusting = "sts:AssumeRole" in json.dumps(statement.get("Action"))
                if not trusting:  # a resource policy; trust policies are judged on their roles above
                    refused += _resource_policy_refusals(address, statement, account)
            elif statement.get("Effect") == "Allow" and ("Resource" in statement or "NotResource" in statement):
                granting.append(statement)  # resources all unknown: what this plan creates, the workspace's own
        reached = sorted({r.what for r in reaches for s in granting if _could_allow(s, r)})
        if reached:
            refused.append(
                f"{address}: allows {'; '.join(reached)}: workspace {target.workspace}'s policies name "
                "only its own resources (conditions are not credited). Fix: name the workspace's own"
            )
        text = json.dumps(statements(document))
        named = sorted({match.group(0) for pattern in others for match in pattern.finditer(text)})
        if named:
            refused.append(f"{address}: names {', '.join(named)}: another workspace's resources. Fix: use "
                           "`workspace.resource_name(...)`, which names the selected workspace's")  # fmt: skip
    return len(documents) + len(roles), refused
