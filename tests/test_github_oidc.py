"""The pipeline's credentials without secrets (github_oidc.py): GitHub's OIDC provider, a plan and an apply
role per workspace, and the workload boundary, created by the bootstrap stack when a repository is named.

Asserted on the synthesised JSON: the policy documents are `aws_iam_policy_document` data sources whose
statements the synthesis holds as written. IAM itself is not emulated (moto evaluates no policy).
"""

from __future__ import annotations

import dataclasses
import json
import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
from conftest import SETTINGS, bootstrap, settings_with, synth

from store2018.github_oidc import APPLY_SESSION_SECONDS, GITHUB_OIDC_HOST
from store2018.settings import ConfigError, ProjectSettings

REPOSITORY = "octo-org/store2018"
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
WORKSPACES = list(SETTINGS.environments)
# An IAM ARN in the bootstrap's account (a data source), and what follows the account.
IAM_ARN = re.compile(r"arn:aws:iam::\$\{data\.aws_caller_identity\.github_oidc_account_[0-9A-F]{8}\.account_id\}:(.+)")
STATE_BUCKET = "${aws_s3_bucket.state_bucket.arn}"
STATE_KEY = "${aws_kms_key.state_key.arn}"
MAIN_BOUNDARY = "arn:aws:iam::${data.aws_caller_identity.account.account_id}:policy/store2018-workload-boundary"
# What a read-only role may call: describe, get and list (and who am I).
READ_ACTION = re.compile(r"[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*\*?|sts:GetCallerIdentity")
# Reads that return data rather than configuration: never granted outside the state statements.
DATA_READS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "secretsmanager:GetSecretValue",
              "s3:GetObject", "kms:Decrypt", "logs:GetLogEvents", "logs:FilterLogEvents", "ec2:GetPasswordData",
              "ecr:GetAuthorizationToken")  # fmt: skip
STATE_SIDS = {"StateBucket", "ReadState", "WriteState", "StateLock", "StateKey"}


@pytest.fixture(scope="module")
def created() -> dict[str, Any]:
    """The bootstrap with a repository named: it creates GitHub's provider."""
    return bootstrap(settings_with(github_repository=REPOSITORY))


@pytest.fixture(scope="module")
def existing() -> dict[str, Any]:
    """The bootstrap with the account's existing provider named."""
    return bootstrap(settings_with(github_repository=REPOSITORY, github_oidc_provider_arn=PROVIDER_ARN))


@pytest.fixture(scope="module")
def main_with_pipeline() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(synth(settings_with(github_repository=REPOSITORY)))
    return parsed


def named(template: dict[str, Any], kind: str, resource_type: str, construct_id: str) -> dict[str, Any]:
    """The one resource (`kind` "resource") or data source ("data") built as `github_oidc/<construct_id>`."""
    found: list[dict[str, Any]] = [body for address, body in template.get(kind, {}).get(resource_type, {}).items()
                                   if re.fullmatch(rf"github_oidc_{construct_id}_[0-9A-F]{{8}}", address)]  # fmt: skip
    assert len(found) == 1, (resource_type, construct_id, sorted(template.get(kind, {}).get(resource_type, {})))
    return found[0]


def statements(template: dict[str, Any], construct_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = named(template, "data", "aws_iam_policy_document", construct_id)["statement"]
    return found


def by_sid(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    assert len({s["sid"] for s in found}) == len(found)
    return {s["sid"]: s for s in found}


def documents(template: dict[str, Any], role: str, workspace: str) -> dict[str, list[dict[str, Any]]]:
    """A role's permission documents (inline and managed), by their address."""
    return {address: body["statement"] for address, body in template["data"]["aws_iam_policy_document"].items()
            if re.fullmatch(rf"github_oidc_{role}_{workspace}_(read|iam|managed_[0-9])_document_[0-9A-F]{{8}}",
                            address)}  # fmt: skip


def permissions(template: dict[str, Any], role: str, workspace: str) -> dict[str, dict[str, Any]]:
    """Every statement of a role's policies, by Sid."""
    return by_sid([s for found in documents(template, role, workspace).values() for s in found])


def conditions(statement: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    return {(c["test"], c["variable"]): c["values"] for c in statement.get("condition", [])}


def grants(granted: str, action: str) -> bool:
    """Whether a policy's action (perhaps with a wildcard) covers `action` (IAM matches them case-blind)."""
    return fnmatchcase(action.lower(), granted.lower())


def role_pattern(workspace: str) -> str:
    return f"role/{workspace}-store2018-*"


def iam_tail(resource: str) -> str:
    match = IAM_ARN.fullmatch(resource)
    assert match, resource
    return match[1]


def boundary_ref(template: dict[str, Any]) -> str:
    (address,) = [a for a in template["resource"]["aws_iam_policy"] if a.startswith("github_oidc_workload_boundary_")]
    return f"${{aws_iam_policy.{address}.arn}}"


# Nothing without a repository.


def test_nothing_is_created_without_a_repository(synthesized: str) -> None:
    template = bootstrap(SETTINGS)
    assert SETTINGS.project.github_repository == ""
    assert not [t for t in template["resource"] if t.startswith("aws_iam_")]
    assert "data" not in template or not template["data"].get("aws_caller_identity")
    assert not [o for o in template["output"] if o.startswith("github")]
    main = json.loads(synthesized)
    assert main["resource"]["aws_iam_role"]
    assert [r for r in main["resource"]["aws_iam_role"].values() if "permissions_boundary" in r] == []


def test_the_repository_is_a_required_setting_written_as_empty() -> None:
    field = {f.name: f for f in dataclasses.fields(ProjectSettings)}["github_repository"]
    assert field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    assert {f.name: f for f in dataclasses.fields(ProjectSettings)}["github_oidc_provider_arn"].default is None


# The provider.


def test_the_bootstrap_creates_githubs_provider_without_a_thumbprint(created: dict[str, Any]) -> None:
    assert named(created, "resource", "aws_iam_openid_connect_provider", "provider") == {
        "url": "https://token.actions.githubusercontent.com",
        "client_id_list": ["sts.amazonaws.com"],
    }
    (address,) = created["resource"]["aws_iam_openid_connect_provider"]
    assert (
        created["output"]["github_oidc_provider_arn"]["value"] == f"${{aws_iam_openid_connect_provider.{address}.arn}}"
    )


def test_an_existing_provider_is_trusted_not_created(existing: dict[str, Any]) -> None:
    assert "aws_iam_openid_connect_provider" not in existing["resource"]
    assert existing["output"]["github_oidc_provider_arn"]["value"] == PROVIDER_ARN
    for workspace in WORKSPACES:
        for role in ("plan", "apply"):
            (trust,) = statements(existing, f"{role}_{workspace}_trust")
            assert trust["principals"] == [{"type": "Federated", "identifiers": [PROVIDER_ARN]}]


# The roles' trust.


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_plan_role_trusts_pull_requests_main_and_its_environment(created: dict[str, Any], workspace: str) -> None:
    (address,) = created["resource"]["aws_iam_openid_connect_provider"]
    assert statements(created, f"plan_{workspace}_trust") == [{
        "sid": "GitHubActions",
        "effect": "Allow",
        "actions": ["sts:AssumeRoleWithWebIdentity"],
        "principals": [{"type": "Federated", "identifiers": [f"${{aws_iam_openid_connect_provider.{address}.arn}}"]}],
        "condition": [
            {"test": "StringEquals", "variable": "token.actions.githubusercontent.com:aud",
             "values": ["sts.amazonaws.com"]},
            {"test": "StringEquals", "variable": "token.actions.githubusercontent.com:sub",
             "values": [f"repo:{REPOSITORY}:pull_request", f"repo:{REPOSITORY}:ref:refs/heads/main",
                        f"repo:{REPOSITORY}:environment:{workspace}"]},
        ],
    }]  # fmt: skip
    role = named(created, "resource", "aws_iam_role", f"plan_{workspace}_role")
    assert role["name"] == f"store2018-github-plan-{workspace}"
    assert "max_session_duration" not in role  # IAM's default hour: a plan is short


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_apply_role_trusts_only_its_environment(created: dict[str, Any], workspace: str) -> None:
    (trust,) = statements(created, f"apply_{workspace}_trust")
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert conditions(trust) == {
        ("StringEquals", f"{GITHUB_OIDC_HOST}:aud"): ["sts.amazonaws.com"],
        ("StringEquals", f"{GITHUB_OIDC_HOST}:sub"): [f"repo:{REPOSITORY}:environment:{workspace}"],
    }
    role = named(created, "resource", "aws_iam_role", f"apply_{workspace}_role")
    assert role["name"] == f"store2018-github-apply-{workspace}"
    assert role["max_session_duration"] == APPLY_SESSION_SECONDS == 7200  # steady-state waits outlast an hour


def test_outputs_name_every_workspaces_roles(created: dict[str, Any]) -> None:
    for role in ("plan", "apply"):
        value = created["output"][f"github_{role}_role_arns"]["value"]
        assert sorted(value) == sorted(WORKSPACES)
        for workspace in WORKSPACES:
            assert re.fullmatch(rf"\$\{{aws_iam_role\.github_oidc_{role}_{workspace}_role_[0-9A-F]{{8}}\.arn}}",
                                value[workspace])  # fmt: skip


# The plan role: read only, plus its workspace's state.


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_plan_role_reads_and_never_writes_outside_the_state_lock(created: dict[str, Any], workspace: str) -> None:
    found = permissions(created, "plan", workspace)
    assert all(s["effect"] == "Allow" for s in found.values())
    for statement in found.values():
        if statement["sid"] in STATE_SIDS:
            continue
        assert [a for a in statement["actions"] if not READ_ACTION.fullmatch(a)] == [], statement["sid"]
        assert [d for a in statement["actions"] for d in DATA_READS if grants(a, d)] == [], statement["sid"]


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_plan_role_reads_its_state_and_holds_its_lock(created: dict[str, Any], workspace: str) -> None:
    state = f"{STATE_BUCKET}/env:/{workspace}/store2018/terraform.tfstate"
    found = permissions(created, "plan", workspace)
    assert found["ReadState"]["actions"] == ["s3:GetObject"] and found["ReadState"]["resources"] == [state]
    assert "WriteState" not in found
    assert found["StateLock"]["resources"] == [f"{state}.tflock"]  # use_lockfile: plan writes the lock file
    assert sorted(found["StateLock"]["actions"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert found["StateBucket"]["resources"] == [STATE_BUCKET]
    assert [a for a in found["StateBucket"]["actions"] if not READ_ACTION.fullmatch(a) and a != "s3:ListBucket"] == []
    assert found["StateKey"]["resources"] == [STATE_KEY]
    assert conditions(found["StateKey"]) == {("StringEquals", "kms:ViaService"): ["s3.us-west-2.amazonaws.com"]}
    # Nothing else touches S3 objects or decrypts.
    others = [s for s in found.values() if s["sid"] not in STATE_SIDS]
    assert [a for s in others for a in s["actions"] if a.startswith(("s3:", "kms:Decrypt", "kms:Encrypt"))] == []


def test_iam_reads_are_held_to_the_workspaces_roles(created: dict[str, Any]) -> None:
    for workspace in WORKSPACES:
        for role in ("plan", "apply"):
            found = permissions(created, role, workspace)
            iam = [s for s in found.values() if any(a.startswith("iam:") for a in s["actions"])
                   and s["effect"] == "Allow" and all(READ_ACTION.fullmatch(a) for a in s["actions"])]  # fmt: skip
            assert [s["sid"] for s in iam] == ["ReadWorkspaceRoles"]
            (resource,) = iam[0]["resources"]
            assert iam_tail(resource) == role_pattern(workspace)


# The apply role.


def apply_statements(template: dict[str, Any], workspace: str) -> dict[str, dict[str, Any]]:
    return permissions(template, "apply", workspace)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_apply_role_writes_its_state(created: dict[str, Any], workspace: str) -> None:
    state = f"{STATE_BUCKET}/env:/{workspace}/store2018/terraform.tfstate"
    found = apply_statements(created, workspace)
    assert (found["WriteState"]["actions"], found["WriteState"]["resources"]) == (["s3:GetObject", "s3:PutObject"],
                                                                                  [state])  # fmt: skip
    assert found["StateLock"]["resources"] == [f"{state}.tflock"]
    assert found["StateKey"]["resources"] == [STATE_KEY]


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_roles_are_created_and_given_policies_only_with_the_boundary(created: dict[str, Any], workspace: str) -> None:
    found = apply_statements(created, workspace)
    statement = found["WorkspaceRolesCarryTheBoundary"]
    assert sorted(statement["actions"]) == ["iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePermissionsBoundary",
                                            "iam:PutRolePolicy"]  # fmt: skip
    (resource,) = statement["resources"]
    assert iam_tail(resource) == role_pattern(workspace)
    assert conditions(statement) == {("StringEquals", "iam:PermissionsBoundary"): [boundary_ref(created)]}
    # No other Allow reaches these actions.
    for other in found.values():
        if other["effect"] == "Allow" and other is not statement:
            for action in statement["actions"]:
                assert not [a for a in other["actions"] if grants(a, action)], (other["sid"], action)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_iam_changes_reach_only_the_workspaces_roles(created: dict[str, Any], workspace: str) -> None:
    for statement in apply_statements(created, workspace).values():
        writes = [a for a in statement["actions"] if a.startswith("iam:") and not READ_ACTION.fullmatch(a)]
        if statement["effect"] != "Allow" or not writes:
            continue
        for resource in statement["resources"]:
            tail = iam_tail(resource)
            if tail == "role/aws-service-role/*":
                assert writes == ["iam:CreateServiceLinkedRole"]
                assert conditions(statement) == {("StringEquals", "iam:AWSServiceName"): [
                    "ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com",
                    "ecs.application-autoscaling.amazonaws.com"]}  # fmt: skip
            else:
                assert fnmatchcase(tail, role_pattern(workspace)), (statement["sid"], resource)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_roles_are_passed_only_to_ecs_tasks_and_flow_logs(created: dict[str, Any], workspace: str) -> None:
    passing = [s for s in apply_statements(created, workspace).values()
               if s["effect"] == "Allow" and any(grants(a, "iam:PassRole") for a in s["actions"])]  # fmt: skip
    limits = {}
    for statement in passing:
        assert statement["actions"] == ["iam:PassRole"]
        (resource,) = statement["resources"]
        limits[iam_tail(resource)] = conditions(statement)
    assert limits == {
        role_pattern(workspace): {("StringEquals", "iam:PassedToService"): ["ecs-tasks.amazonaws.com"]},
        f"role/{workspace}-store2018-flow-logs": {
            ("StringEquals", "iam:PassedToService"): ["vpc-flow-logs.amazonaws.com"]},
    }  # fmt: skip


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_apply_role_is_denied_boundary_and_pipeline_changes(created: dict[str, Any], workspace: str) -> None:
    found = apply_statements(created, workspace)
    denied = {sid: s for sid, s in found.items() if s["effect"] == "Deny"}
    assert sorted(denied) == ["KeepBoundaries", "PipelineRolesUnchanged", "PoliciesUnchanged", "StateKeyKept"]
    assert (denied["KeepBoundaries"]["actions"], denied["KeepBoundaries"]["resources"]) == (
        ["iam:DeleteRolePermissionsBoundary"], ["*"])  # fmt: skip
    boundary, pipeline_policies = denied["PoliciesUnchanged"]["resources"]
    assert (boundary, iam_tail(pipeline_policies)) == (boundary_ref(created), "policy/store2018-github-*")
    assert {"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"} <= set(
        denied["PoliciesUnchanged"]["actions"])  # fmt: skip
    (pipeline,) = denied["PipelineRolesUnchanged"]["resources"]
    assert iam_tail(pipeline) == "role/store2018-github-*"
    assert {"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole",
            "iam:PassRole"} <= set(denied["PipelineRolesUnchanged"]["actions"])  # fmt: skip
    assert denied["StateKeyKept"]["resources"] == [STATE_KEY]
    assert {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"} <= set(denied["StateKeyKept"]["actions"])
    # Every role change the apply role may make to its workspace's roles is denied on the pipeline's.
    allowed = {a for s in found.values() if s["effect"] == "Allow" for a in s["actions"] if a.startswith("iam:")
               and not READ_ACTION.fullmatch(a) and a != "iam:CreateServiceLinkedRole"}  # fmt: skip
    assert allowed <= set(denied["PipelineRolesUnchanged"]["actions"])


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_writes_are_held_to_the_workspace_or_the_region(created: dict[str, Any], workspace: str) -> None:
    """Every write names the workspace's resources, or is held to the project's region (or is one of the
    global services' statements README lists)."""
    prefix = f"{workspace}-store2018"
    global_ones = {"CreateZones", "Zones", "ServiceLinkedRoles"}
    for sid, statement in apply_statements(created, workspace).items():
        writes = [a for a in statement["actions"] if not READ_ACTION.fullmatch(a)]
        if statement["effect"] != "Allow" or not writes or sid in STATE_SIDS | global_ones:
            continue
        in_region = conditions(statement).get(("StringEquals", "aws:RequestedRegion")) == ["us-west-2"]
        named_resources = all(prefix in r for r in statement["resources"])
        in_region_arns = all(r.startswith(("arn:aws:kms:us-west-2:",)) for r in statement["resources"])
        assert in_region or named_resources or (sid == "Keys" and in_region_arns), (sid, statement["resources"])


def test_another_workspaces_names_are_out_of_reach(created: dict[str, Any]) -> None:
    staging = json.dumps(permissions(created, "apply", "staging"))
    assert "prod-store2018" not in staging
    assert "staging-store2018" in staging


# The workload boundary.

BOUNDARY_ACTIONS = {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:DescribeLogGroups",
                    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "kms:Decrypt"}  # fmt: skip


def test_the_boundary_allows_only_what_the_workloads_need(created: dict[str, Any]) -> None:
    assert named(created, "resource", "aws_iam_policy", "workload_boundary")["name"] == "store2018-workload-boundary"
    found = by_sid(statements(created, "workload_boundary_document"))
    assert {a for s in found.values() for a in s["actions"]} == BOUNDARY_ACTIONS  # the shipped catalog: no secrets
    assert all(s["effect"] == "Allow" for s in found.values())
    logs = found["WorkloadLogs"]["resources"]
    assert sorted(r.split(":log-group:")[1] for r in logs) == sorted(
        f"/{kind}/{w}-store2018/*" for w in WORKSPACES for kind in ("ecs", "vpc"))  # fmt: skip
    assert conditions(found["DecryptWorkspaceKeys"]) == {
        ("StringEquals", "aws:ResourceTag/Project"): ["store2018"],
        ("StringEquals", "aws:ResourceTag/Workspace"): WORKSPACES,
    }


def test_the_boundary_names_the_settings_secrets_and_images() -> None:
    from store2018.settings import Secret

    parameter = "arn:aws:ssm:us-west-2:123456789012:parameter/store2018/db"
    secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:store2018/api-AbCdEf"
    key = "arn:aws:kms:us-west-2:123456789012:key/0f3c1e2a-1b2c-4d5e-8f90-123456789abc"
    image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/store/account"
    account = dataclasses.replace(SETTINGS.services["account"], image=image, secrets={
        "DB_PASSWORD": Secret(arn=parameter, kms_key_arn=key)})  # fmt: skip
    shopping = dataclasses.replace(SETTINGS.services["shopping"], secrets={"API_TOKEN": Secret(arn=secret)})
    template = bootstrap(settings_with(github_repository=REPOSITORY, services={
        **SETTINGS.services, "account": account, "shopping": shopping}))  # fmt: skip
    found = by_sid(statements(template, "workload_boundary_document"))
    assert (found["ReadNamedParameters"]["actions"], found["ReadNamedParameters"]["resources"]) == (
        ["ssm:GetParameters"], [parameter])  # fmt: skip
    assert found["ReadNamedSecrets"]["resources"] == [secret]
    assert found["DecryptNamedSecretKeys"]["resources"] == [key]
    assert found["PullNamedImages"]["resources"] == ["arn:aws:ecr:us-west-2:123456789012:repository/store/account"]


def test_the_boundary_covers_every_grant_of_the_main_stack(
    created: dict[str, Any], main_with_pipeline: dict[str, Any]
) -> None:
    """A grant the boundary lacks would be silently cut off: every action of the main stack's role policies
    (documents without principals: not trust or key policies) is one the boundary allows."""
    boundary = {a for s in statements(created, "workload_boundary_document") for a in s["actions"]}
    granted = {
        action
        for document in main_with_pipeline["data"]["aws_iam_policy_document"].values()
        for statement in document["statement"]
        if "principals" not in statement
        for action in statement["actions"]
    }
    assert granted and [a for a in sorted(granted) if not any(grants(b, a) for b in boundary)] == []


# The main stack's roles.


def test_every_main_stack_role_carries_the_boundary_when_the_pipeline_exists(
    main_with_pipeline: dict[str, Any],
) -> None:
    roles = main_with_pipeline["resource"]["aws_iam_role"]
    assert len(roles) == 1 + 2 * len(SETTINGS.services)  # flow logs, and each service's execution and task roles
    assert {r["permissions_boundary"] for r in roles.values()} == {MAIN_BOUNDARY}


def test_every_main_stack_role_is_within_the_apply_roles_reach(main_with_pipeline: dict[str, Any]) -> None:
    for role in main_with_pipeline["resource"]["aws_iam_role"].values():
        for workspace in WORKSPACES:
            name = role["name"].replace("${local.workspace}", workspace)
            assert fnmatchcase(f"role/{name}", role_pattern(workspace)), name
            assert len(name) <= 64  # IAM's limit for role names


# The settings.


@pytest.mark.parametrize(
    "value",
    ["octo org/store", "octo/store name", "${x}/store", "octo/${x}", '"octo"/store', "octo/*", "*/*", "octo",
     "https://github.com/octo/store", "github.com/octo/store", "octo/store/", "/octo/store", "-octo/store",
     "octo-/store", "oc--to/store", "octo/.", "octo/..", "a" * 40 + "/store", "octo/" + "a" * 101, "octo/store\n",
     "octo/st%{x}ore", "octo\\store", "octo/store.git?x=1", "octo/störe"],
    ids=repr,
)  # fmt: skip
def test_a_malformed_repository_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^ProjectSettings\.github_repository = .* is invalid: '' \(no pipeline "
                       r"roles\) or 'OWNER/NAME'.*\. Fix: copy it from the repository's page"):  # fmt: skip
        settings_with(github_repository=value)


@pytest.mark.parametrize("value", ["", "a/b", "octo-org/store.2018_x-y", "a" * 39 + "/" + "b" * 100, "o/.github"])
def test_a_repository_as_github_names_it_is_accepted(value: str) -> None:
    assert settings_with(github_repository=value).project.github_repository == value


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("arn:aws:iam::12345678901:oidc-provider/token.actions.githubusercontent.com", "arn:aws:iam::<12-digit"),
        ("arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com/", "arn:aws:iam::<12-digit"),
        ("arn:aws:iam::123456789012:oidc-provider/gitlab.com", "arn:aws:iam::<12-digit"),
        ("arn:aws:iam::123456789012:oidc-provider/*", "arn:aws:iam::<12-digit"),
        ("*", "arn:aws:iam::<12-digit"),
        ("arn:aws:iam::${x}:oidc-provider/token.actions.githubusercontent.com", "arn:aws:iam::<12-digit"),
        ("arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", "commercial partition"),
        ("arn:aws-us-gov:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", "commercial partition"),
    ],
)
def test_a_malformed_provider_arn_is_refused(value: str, allowed: str) -> None:
    with pytest.raises(ConfigError, match=rf"^ProjectSettings\.github_oidc_provider_arn = .* is invalid: .*"
                       rf"{re.escape(allowed)}.*\. Fix: "):  # fmt: skip
        settings_with(github_repository=REPOSITORY, github_oidc_provider_arn=value)


def test_a_provider_without_a_repository_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^ProjectSettings\.github_oidc_provider_arn = .* is invalid: a provider "
                       r"only with ProjectSettings\.github_repository set.*Fix: set github_repository"):  # fmt: skip
        settings_with(github_oidc_provider_arn=PROVIDER_ARN)


# Size: IAM caps a role's inline policies at 10,240 characters in all, a managed policy at 6,144 (whitespace
# not counted), and attaches at most 10 managed policies to a role.

INLINE_LIMIT, MANAGED_LIMIT = 10_240, 6_144
# What a reference resolves to, at its longest: an account id; the state bucket's, key's or boundary's ARN.
RESOLVED = {"account_id": "1" * 12, "state_bucket": "arn:aws:s3:::" + "b" * 63,
            "state_key": "arn:aws:kms:ap-southeast-2:123456789012:key/" + "k" * 36,
            "aws_iam_policy": "arn:aws:iam::123456789012:policy/" + "p" * 36}  # fmt: skip


def resolved(reference: re.Match[str]) -> str:
    (value,) = [v for k, v in RESOLVED.items() if k in reference[0]]
    return value


def rendered_length(found: list[dict[str, Any]]) -> int:
    """The policy as IAM stores it, without whitespace, its references resolved at their longest."""
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": s["sid"], "Effect": s["effect"], "Action": s["actions"], "Resource": s["resources"],
         **({"Condition": {c["test"]: {c["variable"]: c["values"]} for c in s["condition"]}} if s.get("condition")
            else {})}
        for s in found]}  # fmt: skip
    return len(re.sub(r"\$\{[^}]*\}", resolved, json.dumps(document, separators=(",", ":"))))


@pytest.mark.parametrize("workspace", WORKSPACES)
@pytest.mark.parametrize("role", ["plan", "apply"])
def test_each_roles_policies_are_attached_and_fit_iams_limits(
    created: dict[str, Any], role: str, workspace: str
) -> None:
    role_address = re.sub(r"^\$\{aws_iam_role\.(.*)\.arn\}$", r"\1",
                          created["output"][f"github_{role}_role_arns"]["value"][workspace])  # fmt: skip
    inline = {body["name"]: body["policy"] for body in created["resource"]["aws_iam_role_policy"].values()
              if body["role"] == f"${{aws_iam_role.{role_address}.id}}"}  # fmt: skip
    attached = {body["policy_arn"] for body in created["resource"].get("aws_iam_role_policy_attachment", {}).values()
                if body["role"] == f"${{aws_iam_role.{role_address}.name}}"}  # fmt: skip
    managed = {body["name"]: body["policy"] for address, body in created["resource"]["aws_iam_policy"].items()
               if f"${{aws_iam_policy.{address}.arn}}" in attached}  # fmt: skip
    assert sorted(inline) == (["read"] if role == "plan" else ["iam", "read"])
    assert sorted(managed) == ([] if role == "plan" else [f"store2018-github-apply-{workspace}-network",
                                                          f"store2018-github-apply-{workspace}-services"])  # fmt: skip
    # Every document of the role is one of its policies, and nothing else is.
    json_of = {f"${{data.aws_iam_policy_document.{a}.json}}": a for a in documents(created, role, workspace)}
    assert sorted(json_of) == sorted([*inline.values(), *managed.values()])
    inline_length = sum(rendered_length(documents(created, role, workspace)[json_of[p]]) for p in inline.values())
    assert inline_length < INLINE_LIMIT, inline_length
    for policy in managed.values():
        assert rendered_length(documents(created, role, workspace)[json_of[policy]]) < MANAGED_LIMIT
