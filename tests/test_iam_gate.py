"""The gate's IAM rule (security/iam_gate.py) on plans shaped as `terraform show -json` writes them: each refusal
on its own. The Terraform-level tests run it on real plans (test_terraform_iam.py: the pipeline's plans pass,
a role trusting another account is refused by the gate's command; test_terraform.py: the shipped plans pass)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from security.iam_gate import Target, plan_refusals

ACCOUNT = "123456789012"
PROD_PARAMETER = f"arn:aws:ssm:us-west-2:{ACCOUNT}:parameter/store2018/prod/db-password"
TABLE: dict[str, dict[str, Any]] = {
    "prod": {"services": {"account": {"secret_parameter_arns": [PROD_PARAMETER], "secret_manager_arns": [],
                                      "secret_key_arns": []}}},
    "staging": {"services": {"account": {"secret_parameter_arns": [], "secret_manager_arns": [],
                                         "secret_key_arns": []}}},
}  # fmt: skip
STAGING = Target("staging", "store2018", TABLE)
ECS_TASKS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}  # fmt: skip
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/store2018-workload-boundary-staging"


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "configuration": {"provider_config": {"aws": {"expressions": {"region": {"constant_value": "us-west-2"}}}}},
        "prior_state": {"values": {"root_module": {"resources": [
            {"address": "data.aws_caller_identity.account", "mode": "data", "type": "aws_caller_identity",
             "values": {"account_id": ACCOUNT}}]}}},
        "resource_changes": list(changes),
    }  # fmt: skip


def change(
    address: str, after: dict[str, Any], actions: tuple[str, ...] = ("create",), **unknown: bool
) -> dict[str, Any]:
    return {"address": address, "type": address.split(".")[0],
            "change": {"actions": list(actions), "after": after, "after_unknown": unknown}}  # fmt: skip


def role(
    name: str = "staging-store2018-account-task", trust: dict[str, Any] = ECS_TASKS, **after: Any
) -> dict[str, Any]:
    return change(f"aws_iam_role.{name.replace('-', '_')}",
                  {"name": name, "assume_role_policy": json.dumps(trust), **after})  # fmt: skip


def inline(*statements: dict[str, Any]) -> dict[str, Any]:
    return change("aws_iam_role_policy.grant", {"policy": json.dumps({"Version": "2012-10-17",
                                                                      "Statement": list(statements)})})  # fmt: skip


def test_the_stacks_own_shape_passes() -> None:
    own_logs = f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/ecs/staging-store2018/account:*"
    grant = inline({"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": own_logs})
    checked, refused = plan_refusals(plan(role(permissions_boundary=BOUNDARY), grant), STAGING)
    assert (checked, refused) == (2, [])


@pytest.mark.parametrize(
    ("principal", "action"),
    [({"AWS": "arn:aws:iam::999999999999:root"}, "sts:AssumeRole"), ({"AWS": "*"}, "sts:AssumeRole"),
     ({"Federated": "arn:aws:iam::1:oidc-provider/x"}, "sts:AssumeRoleWithWebIdentity"),
     ({"Service": ["ecs-tasks.amazonaws.com", "lambda.amazonaws.com"]}, "sts:AssumeRole"),
     ({"Service": "ecs-tasks.amazonaws.com"}, "sts:TagSession")],
    ids=["another account", "anyone", "a web identity", "another service", "another action"],
)  # fmt: skip
def test_a_role_trusting_anyone_but_the_stacks_services_is_refused(principal: dict[str, Any], action: str) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Principal": principal}]}
    _, refused = plan_refusals(plan(role(trust=trust)), STAGING)
    assert refused and all(r.startswith("aws_iam_role.staging_store2018_account_task: its trust policy ")
                           for r in refused)  # fmt: skip


def test_a_trust_policy_unknown_at_plan_is_refused() -> None:
    unknown = change("aws_iam_role.x", {"name": "staging-store2018-x"}, assume_role_policy=True)
    assert plan_refusals(plan(unknown), STAGING)[1] == [
        "aws_iam_role.x: its trust policy is unknown at plan; it must be known to be checked. Fix: build it from "
        "values known before apply (service_trust_policy)"]  # fmt: skip


@pytest.mark.parametrize(
    "boundary",
    [f"arn:aws:iam::{ACCOUNT}:policy/store2018-workload-boundary-prod",
     f"arn:aws:iam::{ACCOUNT}:policy/store2018-workload-boundary", None],
    ids=["prod's", "the shared one", "none"],
)  # fmt: skip
def test_with_the_pipeline_on_every_role_carries_its_workspaces_boundary(boundary: str | None) -> None:
    roles = [role(permissions_boundary=BOUNDARY), role("staging-store2018-other", permissions_boundary=boundary)]
    _, refused = plan_refusals(plan(*roles), STAGING)
    assert [r.split(":")[0] for r in refused] == ["aws_iam_role.staging_store2018_other"]
    assert "every role of workspace staging carries arn:aws:iam::<account>:policy/store2018-workload-boundary-" \
        "staging" in refused[0]  # fmt: skip


@pytest.mark.parametrize(
    ("statement", "reaches"),
    [
        ({"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": PROD_PARAMETER}, "prod's parameter"),
        ({"Effect": "Allow", "Action": "ssm:Get*", "Resource": "*"}, "prod's parameter"),
        (
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*"},
            "prod's keys",
        ),
        ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"}, "prod's roles"),
        ({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}, "prod's log groups"),
    ],
)
def test_a_policy_reaching_another_workspaces_resources_is_refused(statement: dict[str, Any], reaches: str) -> None:
    _, refused = plan_refusals(plan(inline(statement)), STAGING)
    assert len(refused) == 1 and refused[0].startswith("aws_iam_role_policy.grant: allows ") and reaches in refused[0]


def test_a_policy_naming_another_workspaces_resources_is_refused_even_to_deny() -> None:
    denial = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prod-store2018-logs/*"}
    assert plan_refusals(plan(inline(denial)), STAGING)[1] == [
        "aws_iam_role_policy.grant: names prod-store2018-: another workspace's resources. Fix: use "
        "`workspace.resource_name(...)`, which names the selected workspace's"]  # fmt: skip
    # The same text in prod's own plan is its own.
    assert plan_refusals(plan(inline(denial)), Target("prod", "store2018", TABLE))[1] == []


@pytest.mark.parametrize("kind", ["aws_iam_policy", "aws_iam_role_policy_attachment", "aws_iam_user"])
def test_managed_policies_attachments_and_users_are_refused(kind: str) -> None:
    _, refused = plan_refusals(plan(change(f"{kind}.x", {})), STAGING)
    assert refused == [f"{kind}.x: the main stack creates no {kind}: a managed policy's document is out of this "
                       "rule's sight, and users and groups are out of the pipeline's reach. Fix: use an inline role "
                       "policy (aws_iam_role_policy)"]  # fmt: skip


def test_what_a_plan_deletes_is_not_judged() -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": "*"}}]}  # fmt: skip
    assert plan_refusals(plan(change("aws_iam_role.old", {"assume_role_policy": json.dumps(trust)},
                                     actions=("delete",))), STAGING) == (0, [])  # fmt: skip
