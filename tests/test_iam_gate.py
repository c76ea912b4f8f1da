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
    data = address.startswith("data.")
    return {"address": address, "mode": "data" if data else "managed", "type": address.split(".")[int(data)],
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
        ({"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": PROD_PARAMETER}, "prod's parameter"),
        ({"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": PROD_PARAMETER,
          "Condition": {"StringEquals": {"aws:RequestedRegion": "us-west-2"}}}, "prod's parameter"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": PROD_PARAMETER}, "prod's parameter"),
        ({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*"},
         "any key"),
        ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"}, "prod's roles"),
        ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/pro*"},
         "prod's roles"),
        ({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}, "prod's log groups"),
        ({"Effect": "Allow", "Action": "logs:GetLogEvents",
          "Resource": f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/vpc/prod-store2018/*"}, "prod's log groups"),
    ],
    ids=["by ARN", "by wildcards", "the singular read", "under a condition", "by NotAction", "any key", "any role",
         "a prefix", "every log group", "flow logs"],
)  # fmt: skip
def test_a_policy_reaching_another_workspaces_resources_is_refused(statement: dict[str, Any], reaches: str) -> None:
    _, refused = plan_refusals(plan(inline(statement)), STAGING)
    assert [r for r in refused if r.startswith("aws_iam_role_policy.grant: allows ") and reaches in r], refused


def test_a_denial_that_never_fires_hides_no_allow() -> None:
    """Conditions are not credited: a Deny on a key no real request lacks masks nothing for the gate."""
    allow = {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Null": {"aws:RequestedRegion": "true"}}}
    _, refused = plan_refusals(plan(inline(allow, deny)), STAGING)
    assert [r for r in refused if "allows prod's parameter" in r]


def test_reads_of_configuration_and_the_workspaces_own_resources_are_not_refused() -> None:
    own = {"Effect": "Allow", "Action": ["logs:DescribeLogGroups", "ecr:GetAuthorizationToken"], "Resource": "*"}
    assert plan_refusals(plan(inline(own)), STAGING)[1] == []


def test_a_policy_naming_another_workspaces_resources_is_refused_even_to_deny() -> None:
    denial = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::prod-store2018-logs/*"}
    assert plan_refusals(plan(inline(denial)), STAGING)[1] == [
        "aws_iam_role_policy.grant: names prod-store2018: another workspace's resources. Fix: use "
        "`workspace.resource_name(...)`, which names the selected workspace's"]  # fmt: skip
    # The same text in prod's own plan is its own.
    assert plan_refusals(plan(inline(denial)), Target("prod", "store2018", TABLE))[1] == []


@pytest.mark.parametrize(
    "kind", ["aws_iam_policy", "aws_iam_role_policy_attachment", "aws_iam_user", "aws_iam_role_policies_exclusive"]
)
def test_any_iam_resource_but_roles_and_their_inline_policies_is_refused(kind: str) -> None:
    _, refused = plan_refusals(plan(change(f"{kind}.x", {})), STAGING)
    assert refused == [f"{kind}.x: the main stack creates no {kind}, only roles and their inline policies: another "
                       "IAM resource's documents are out of this rule's sight. Fix: use an inline role policy "
                       "(aws_iam_role_policy)"]  # fmt: skip


def test_a_roles_own_inline_and_managed_policies_are_read_too() -> None:
    reaching = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": PROD_PARAMETER}]})  # fmt: skip
    found = role(inline_policy=[{"name": "x", "policy": reaching}],
                 managed_policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"])  # fmt: skip
    _, refused = plan_refusals(plan(found), STAGING)
    assert [r.split(":")[0] for r in refused] == ["aws_iam_role.staging_store2018_account_task",
                                                  "aws_iam_role.staging_store2018_account_task inline x"]  # fmt: skip


def test_an_inline_policy_unknown_at_plan_must_come_from_a_document_the_plan_shows() -> None:
    unknown = change("aws_iam_role_policy.grant", {}, policy=True)
    assert plan_refusals(plan(unknown), STAGING)[1] == [
        "aws_iam_role_policy.grant: its policy is unknown at plan and not built from a policy document the plan "
        "shows. Fix: build it from an aws_iam_policy_document"]  # fmt: skip
    built = plan(unknown)
    references = ["data.aws_iam_policy_document.grant.json", "data.aws_iam_policy_document.grant"]
    built["configuration"]["root_module"] = {"resources": [
        {"address": "aws_iam_role_policy.grant", "expressions": {"policy": {"references": references}}}]}  # fmt: skip
    assert plan_refusals(built, STAGING)[1] == []


def test_a_resource_policy_grants_only_this_account_and_services() -> None:
    granted = [({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "kms:*"), ({"Service": "logs.amazonaws.com"}, "kms:Encrypt*"),
               ({"AWS": "arn:aws:iam::999999999999:root"}, "kms:Decrypt"),
               ("*", "kms:Decrypt")]  # fmt: skip
    grants = [{"Effect": "Allow", "Action": action, "Resource": "*", "Principal": principal}
              for principal, action in granted]  # fmt: skip
    document = {"Version": "2012-10-17", "Statement": grants}
    _, refused = plan_refusals(plan(change("data.aws_iam_policy_document.key", {"json": json.dumps(document)})),
                               STAGING)  # fmt: skip
    assert refused == [
        "data.aws_iam_policy_document.key: a resource policy grants AWS arn:aws:iam::999999999999:root: only this "
        "account and AWS services. Fix: grant the account's root or a service",
        "data.aws_iam_policy_document.key: a resource policy grants *: only this account and AWS services. Fix: "
        "grant the account's root or a service"]  # fmt: skip


def test_a_plan_without_the_account_is_refused() -> None:
    bare = plan(role())
    bare["prior_state"] = {}
    assert plan_refusals(bare, STAGING)[1][0].startswith("the plan shows no data.aws_caller_identity account")


def test_what_a_plan_deletes_is_not_judged() -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": "*"}}]}  # fmt: skip
    assert plan_refusals(plan(change("aws_iam_role.old", {"assume_role_policy": json.dumps(trust)},
                                     actions=("delete",))), STAGING) == (0, [])  # fmt: skip
