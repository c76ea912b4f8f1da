"""The pipeline's credentials without secrets (github_oidc.py, pipeline_policies.py): GitHub's OIDC provider,
and per workspace a workload boundary, a plan role and an apply role, created by the bootstrap stack when a
repository is named.

Asserted on the synthesised JSON (the documents are `aws_iam_policy_document` data sources whose
statements the synthesis holds as written) and, where it is about what IAM would decide, through the
evaluator (security/iam_policy.py) on those documents, resolved in an example account
(tests/iam_documents.py): the issue's exploit, step by step, is refused on this synthesis and allowed on
a copy of the previous main's statements (tests/data/shared-boundary-policies.json).
"""

from __future__ import annotations

import dataclasses
import json
import re
from fnmatch import fnmatchcase
from typing import Any

import iam_documents
import pytest
from conftest import SETTINGS, bootstrap, settings_with, synth
from iam_documents import PROD_PARAMETER, PROD_SECRET_KEY, STAGING_PARAMETER, exploit_settings

from local.emulated import ROOT
from security.iam_policy import Request, evaluate, from_terraform
from store2018.github_oidc import APPLY_SESSION_SECONDS, GITHUB_OIDC_HOST
from store2018.settings import ConfigError, GitHubSubject, ProjectSettings

REPOSITORY = "octo-org/store2018"
DATA = ROOT / "tests" / "data"
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
WORKSPACES = list(SETTINGS.environments)
# An IAM ARN in the bootstrap's account (a data source), and what follows the account.
IAM_ARN = re.compile(r"arn:aws:iam::\$\{data\.aws_caller_identity\.github_oidc_account_[0-9A-F]{8}\.account_id\}:(.+)")
STATE_BUCKET = "${aws_s3_bucket.state_bucket.arn}"
STATE_KEY = "${aws_kms_key.state_key.arn}"
MAIN_BOUNDARY = ("arn:aws:iam::${data.aws_caller_identity.account.account_id}:policy/store2018-workload-boundary-"
                 "${local.workspace}")  # fmt: skip
# What a read-only role may call: describe, get and list (and who am I).
READ_ACTION = re.compile(r"[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*\*?|sts:GetCallerIdentity")
# Reads that return data rather than configuration: never granted outside the state statements.
DATA_READS = ("ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "secretsmanager:GetSecretValue",
              "s3:GetObject", "kms:Decrypt", "logs:GetLogEvents", "logs:FilterLogEvents", "ec2:GetPasswordData",
              "ecr:GetAuthorizationToken")  # fmt: skip
STATE_SIDS = {"StateBucket", "ReadState", "WriteState", "StateLock", "SeeStateLock", "StateKey"}


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


def boundary_ref(template: dict[str, Any], workspace: str) -> str:
    (address,) = [a for a in template["resource"]["aws_iam_policy"]
                  if re.fullmatch(rf"github_oidc_workload_boundary_{workspace}_[0-9A-F]{{8}}", a)]  # fmt: skip
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


def workflow_subject(context: str, workflow: str, ref: str, repository: str = REPOSITORY) -> str:
    """A token's `sub` with the repository's customised subject (claim keys repo, context, job_workflow_ref)."""
    return f"repo:{repository}:{context}:job_workflow_ref:{repository}/.github/workflows/{workflow}@{ref}"


DRIFT_ON_MAIN = workflow_subject("ref:refs/heads/main", "drift.yml", "refs/heads/main")
DEPLOY_ON_MAIN = workflow_subject("ref:refs/heads/main", "deploy.yml", "refs/heads/main")
PULL_REQUEST = workflow_subject("pull_request", "pull-request.yml", "refs/pull/*/merge")


def test_the_plan_roles_trust_drift_on_main_and_staging_pull_requests_prod_the_deploy_review(
    created: dict[str, Any],
) -> None:
    (address,) = created["resource"]["aws_iam_openid_connect_provider"]
    expected = {"staging": [DRIFT_ON_MAIN, PULL_REQUEST], "prod": [DRIFT_ON_MAIN, DEPLOY_ON_MAIN]}
    for workspace in WORKSPACES:
        assert statements(created, f"plan_{workspace}_trust") == [{
            "sid": "GitHubActions",
            "effect": "Allow",
            "actions": ["sts:AssumeRoleWithWebIdentity"],
            "principals": [{"type": "Federated",
                            "identifiers": [f"${{aws_iam_openid_connect_provider.{address}.arn}}"]}],
            "condition": [
                {"test": "StringEquals", "variable": "token.actions.githubusercontent.com:aud",
                 "values": ["sts.amazonaws.com"]},
                {"test": "StringLike", "variable": "token.actions.githubusercontent.com:sub",
                 "values": expected[workspace]},
            ],
        }]  # fmt: skip
        role = named(created, "resource", "aws_iam_role", f"plan_{workspace}_role")
        assert role["name"] == f"store2018-github-plan-{workspace}"
        assert "max_session_duration" not in role  # IAM's default hour: a plan is short


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_apply_role_trusts_only_the_deploy_workflow_on_main_in_its_environment(
    created: dict[str, Any], workspace: str
) -> None:
    (trust,) = statements(created, f"apply_{workspace}_trust")
    assert trust["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert conditions(trust) == {
        ("StringEquals", f"{GITHUB_OIDC_HOST}:aud"): ["sts.amazonaws.com"],
        ("StringLike", f"{GITHUB_OIDC_HOST}:sub"): [
            workflow_subject(f"environment:{workspace}", "deploy.yml", "refs/heads/main")
        ],
    }
    role = named(created, "resource", "aws_iam_role", f"apply_{workspace}_role")
    assert role["name"] == f"store2018-github-apply-{workspace}"
    assert role["max_session_duration"] == APPLY_SESSION_SECONDS == 7200  # steady-state waits outlast an hour


def assumes(template: dict[str, Any], role: str, sub: str) -> bool:
    """Whether a GitHub token with this `sub` (and the STS audience) may assume the role, by its trust
    policy's conditions (the principal, GitHub's provider, aside: the evaluator does not model principals)."""
    trust = [{**{k: v for k, v in s.items() if k != "principals"}, "resources": ["*"]}
             for s in statements(template, f"{role}_trust")]  # fmt: skip
    context = {f"{GITHUB_OIDC_HOST}:sub": [sub], f"{GITHUB_OIDC_HOST}:aud": ["sts.amazonaws.com"]}
    return evaluate(Request("sts:AssumeRoleWithWebIdentity", "*", context), [from_terraform(trust)]).allowed


def test_only_the_deploy_workflow_on_main_in_its_environment_gets_an_apply_role(created: dict[str, Any]) -> None:
    """A workflow of any branch that names `environment: staging` (GitHub creates the environment unprotected
    if need be), or another workflow file on main in it, or a pull request, is refused."""
    deploy = workflow_subject("environment:staging", "deploy.yml", "refs/heads/main")
    assert assumes(created, "apply_staging", deploy)
    for sub in (
        workflow_subject("environment:staging", "deploy.yml", "refs/heads/attacker"),
        workflow_subject("environment:staging", "evil.yml", "refs/heads/main"),
        workflow_subject("environment:staging", "deploy.yml", "refs/pull/7/merge"),
        workflow_subject("environment:prod", "deploy.yml", "refs/heads/main"),
        workflow_subject("environment:staging", "deploy.yml", "refs/heads/main", "octo-org/fork"),
        f"repo:{REPOSITORY}:environment:staging",  # GitHub's default subject: any workflow, any branch
        workflow_subject("pull_request", "pull-request.yml", "refs/pull/7/merge"),
    ):
        assert not assumes(created, "apply_staging", sub), sub
    assert not assumes(created, "apply_prod", deploy)


def test_pull_requests_get_stagings_plan_role_only(created: dict[str, Any]) -> None:
    pull_request = workflow_subject("pull_request", "pull-request.yml", "refs/pull/7/merge")
    assert assumes(created, "plan_staging", pull_request)
    assert not assumes(created, "plan_prod", pull_request)
    assert not assumes(created, "plan_staging", workflow_subject("pull_request", "deploy.yml", "refs/pull/7/merge"))
    assert assumes(created, "plan_prod", DEPLOY_ON_MAIN) and not assumes(created, "plan_staging", DEPLOY_ON_MAIN)
    assert assumes(created, "plan_prod", DRIFT_ON_MAIN) and assumes(created, "plan_staging", DRIFT_ON_MAIN)


def test_the_subject_switch_trusts_both_formats_then_the_workflow_alone() -> None:
    """Step 1 (BOTH) keeps today's tokens working while the repository's setting is switched; step 3 (WORKFLOW)
    drops GitHub's default format. DEFAULT is what earlier versions trusted."""
    default = f"repo:{REPOSITORY}:environment:prod"
    deploy = workflow_subject("environment:prod", "deploy.yml", "refs/heads/main")
    for subject, trusted in ((GitHubSubject.DEFAULT, {default}), (GitHubSubject.BOTH, {default, deploy}),
                             (GitHubSubject.WORKFLOW, {deploy})):  # fmt: skip
        template = bootstrap(settings_with(github_repository=REPOSITORY, github_oidc_subject=subject))
        assert {sub for sub in (default, deploy) if assumes(template, "apply_prod", sub)} == trusted, subject


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
def test_the_plan_role_reads_its_state_and_sees_its_lock_without_taking_it(
    created: dict[str, Any], workspace: str
) -> None:
    state = f"{STATE_BUCKET}/env:/{workspace}/store2018/terraform.tfstate"
    found = permissions(created, "plan", workspace)
    assert found["ReadState"]["actions"] == ["s3:GetObject"] and found["ReadState"]["resources"] == [state]
    assert "WriteState" not in found
    # Plans run with -lock=false; a drift check reads the lock file to tell an apply in progress.
    assert "StateLock" not in found
    assert found["SeeStateLock"]["resources"] == [f"{state}.tflock"]
    assert found["SeeStateLock"]["actions"] == ["s3:GetObject"]
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
def test_roles_are_created_and_given_policies_only_with_the_workspaces_boundary(
    created: dict[str, Any], workspace: str
) -> None:
    found = apply_statements(created, workspace)
    statement = found["WorkspaceRolesCarryTheBoundary"]
    assert sorted(statement["actions"]) == ["iam:CreateRole", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary",
                                            "iam:PutRolePolicy"]  # fmt: skip
    (resource,) = statement["resources"]
    assert iam_tail(resource) == role_pattern(workspace)
    assert conditions(statement) == {("StringEquals", "iam:PermissionsBoundary"): [boundary_ref(created, workspace)]}
    # No other Allow reaches these actions, and no managed policy is ever attached.
    for other in found.values():
        if other["effect"] == "Allow" and other is not statement:
            for action in [*statement["actions"], "iam:AttachRolePolicy"]:
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
def test_the_apply_role_always_carries_its_denials(created: dict[str, Any], workspace: str) -> None:
    found = apply_statements(created, workspace)
    denied = {sid: s for sid, s in found.items() if s["effect"] == "Deny"}
    assert sorted(denied) == ["KeepBoundaries", "KeyDeletionWaits", "NoKeyLockoutBypass", "PipelineRolesUnchanged",
                              "PoliciesUnchanged", "StateKeyKept"]  # fmt: skip  # the shipped catalog names no key
    assert (denied["KeepBoundaries"]["actions"], denied["KeepBoundaries"]["resources"]) == (
        ["iam:DeleteRolePermissionsBoundary"], ["*"])  # fmt: skip
    boundaries, pipeline_policies = (iam_tail(r) for r in denied["PoliciesUnchanged"]["resources"])
    assert (boundaries, pipeline_policies) == ("policy/store2018-workload-boundary*", "policy/store2018-github-*")
    assert {"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"} <= set(
        denied["PoliciesUnchanged"]["actions"])  # fmt: skip
    (pipeline,) = denied["PipelineRolesUnchanged"]["resources"]
    assert iam_tail(pipeline) == "role/store2018-github-*"
    assert {"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole",
            "iam:PassRole"} <= set(denied["PipelineRolesUnchanged"]["actions"])  # fmt: skip
    assert denied["StateKeyKept"]["resources"] == [STATE_KEY]
    assert {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"} <= set(denied["StateKeyKept"]["actions"])
    assert (sorted(denied["NoKeyLockoutBypass"]["actions"]), conditions(denied["NoKeyLockoutBypass"])) == (
        ["kms:CreateKey", "kms:PutKeyPolicy"], {("Bool", "kms:BypassPolicyLockoutSafetyCheck"): ["true"]})  # fmt: skip
    assert (denied["KeyDeletionWaits"]["actions"], conditions(denied["KeyDeletionWaits"])) == (
        ["kms:ScheduleKeyDeletion"],
        {("NumericLessThan", "kms:ScheduleKeyDeletionPendingWindowInDays"): ["30"]},
    )
    # Every role change the apply role may make to its workspace's roles is denied on the pipeline's.
    allowed = {a for s in found.values() if s["effect"] == "Allow" for a in s["actions"] if a.startswith("iam:")
               and not READ_ACTION.fullmatch(a) and a != "iam:CreateServiceLinkedRole"}  # fmt: skip
    assert allowed <= set(denied["PipelineRolesUnchanged"]["actions"])


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_writes_held_only_to_the_region_are_those_the_readme_lists(created: dict[str, Any], workspace: str) -> None:
    """Every write names the workspace's resources or goes by its tags, except the statements README's "What
    could not be narrowed" lists: held only to the project's region (which separates no workspace), or, for
    Route 53 and the service-linked roles, global."""
    prefix = f"{workspace}-store2018"
    region_only: set[str] = set()
    global_ones: set[str] = set()
    for sid, statement in apply_statements(created, workspace).items():
        writes = [a for a in statement["actions"] if not READ_ACTION.fullmatch(a)]
        if statement["effect"] != "Allow" or not writes or sid in STATE_SIDS:
            continue
        held = conditions(statement)
        named_resources = all(prefix in r for r in statement["resources"])
        by_tag = [workspace] in (held.get(("StringEquals", "aws:ResourceTag/Workspace")),
                                 held.get(("StringEquals", "aws:RequestTag/Workspace")))  # fmt: skip
        if named_resources or by_tag:
            continue
        in_region = held.get(("StringEquals", "aws:RequestedRegion")) == ["us-west-2"] or all(
            r.count(":") >= 5 and r.split(":")[3] == "us-west-2" for r in statement["resources"])  # fmt: skip
        (region_only if in_region else global_ones).add(sid)
    assert sorted(region_only) == ["CreateNamespaces", "Discovery", "Network", "RetireTaskDefinitions", "Scaling",
                                   "TagDiscovery", "TagScaling", "Unsubscribe"]  # fmt: skip
    assert sorted(global_ones) == ["NamespaceZones", "ServiceLinkedRoles"]


def test_another_workspaces_names_are_out_of_reach(created: dict[str, Any]) -> None:
    staging = json.dumps(permissions(created, "apply", "staging"))
    assert "prod-store2018" not in staging and "workload-boundary-prod" not in staging
    assert "staging-store2018" in staging


# The workload boundaries: one per workspace.

BOUNDARY_ACTIONS = {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:DescribeLogGroups",
                    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel", "kms:Decrypt"}  # fmt: skip


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_each_workspaces_boundary_allows_only_what_its_workloads_need(created: dict[str, Any], workspace: str) -> None:
    policy = named(created, "resource", "aws_iam_policy", f"workload_boundary_{workspace}")
    assert policy["name"] == f"store2018-workload-boundary-{workspace}"
    found = by_sid(statements(created, f"workload_boundary_{workspace}_document"))
    assert {a for s in found.values() for a in s["actions"]} == BOUNDARY_ACTIONS  # the shipped catalog: no secrets
    assert all(s["effect"] == "Allow" for s in found.values())
    logs = found["WorkloadLogs"]["resources"]
    assert sorted(r.split(":log-group:")[1] for r in logs) == [f"/ecs/{workspace}-store2018/*",
                                                                f"/vpc/{workspace}-store2018/*"]  # fmt: skip
    assert conditions(found["DecryptWorkspaceKeys"]) == {
        ("StringEquals", "aws:ResourceTag/Project"): ["store2018"],
        ("StringEquals", "aws:ResourceTag/Workspace"): [workspace],
    }
    assert created["output"]["workload_boundary_arns"]["value"][workspace] == boundary_ref(created, workspace)
    # Without shared_workload_boundary, no boundary for every workspace.
    assert not [a for a in created["resource"]["aws_iam_policy"]
                if re.fullmatch(r"github_oidc_workload_boundary_[0-9A-F]{8}", a)]  # fmt: skip


def test_each_boundary_names_only_its_workspaces_secrets_and_the_catalogs_images() -> None:
    from store2018.settings import Secret

    parameter = "arn:aws:ssm:us-west-2:123456789012:parameter/store2018/db"
    secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:store2018/api-AbCdEf"
    key = "arn:aws:kms:us-west-2:123456789012:key/0f3c1e2a-1b2c-4d5e-8f90-123456789abc"
    image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/store/account"
    account = dataclasses.replace(SETTINGS.services["account"], image=image, secrets={
        "DB_PASSWORD": Secret(arn=parameter, kms_key_arn=key)})  # fmt: skip
    shopping = dataclasses.replace(SETTINGS.services["shopping"], secrets={"API_TOKEN": Secret(arn=secret)})
    template = bootstrap(exploit_settings(settings_with(services={**SETTINGS.services, "account": account,
                                                                  "shopping": shopping})))  # fmt: skip
    staging = by_sid(statements(template, "workload_boundary_staging_document"))
    assert (staging["ReadNamedParameters"]["actions"], staging["ReadNamedParameters"]["resources"]) == (
        ["ssm:GetParameters"], [STAGING_PARAMETER])  # fmt: skip
    assert "DecryptNamedSecretKeys" not in staging  # the catalog's parameter has no key of its own
    prod = by_sid(statements(template, "workload_boundary_prod_document"))
    assert prod["ReadNamedParameters"]["resources"] == [PROD_PARAMETER]
    assert prod["DecryptNamedSecretKeys"]["resources"] == [PROD_SECRET_KEY]
    for found in (staging, prod):
        assert found["ReadNamedSecrets"]["resources"] == [secret]
        assert found["PullNamedImages"]["resources"] == ["arn:aws:ecr:us-west-2:123456789012:repository/store/account"]


def test_the_boundaries_cover_every_grant_of_the_main_stack(
    created: dict[str, Any], main_with_pipeline: dict[str, Any]
) -> None:
    """A grant the boundary lacks would be silently cut off: every action of the main stack's role policies
    (documents without principals: not trust or key policies) is one each workspace's boundary allows."""
    granted = {
        action
        for document in main_with_pipeline["data"]["aws_iam_policy_document"].values()
        for statement in document["statement"]
        if "principals" not in statement
        for action in statement["actions"]
    }
    for workspace in WORKSPACES:
        boundary = {a for s in statements(created, f"workload_boundary_{workspace}_document") for a in s["actions"]}
        assert granted and [a for a in sorted(granted) if not any(grants(b, a) for b in boundary)] == []


def test_the_shared_boundary_is_kept_unchanged_while_a_deployment_migrates() -> None:
    """With shared_workload_boundary, the previous main's boundary, under its construct id and with the same
    document, beside the workspaces' own: applying the bootstrap changes nothing of it."""
    shared = bootstrap(exploit_settings(SETTINGS, shared_workload_boundary=True))
    previous = json.loads((DATA / "shared-boundary-policies.json").read_text())
    assert iam_documents.boundary_document(shared, None) == previous["shared_boundary"]
    policy = named(shared, "resource", "aws_iam_policy", "workload_boundary")
    assert (policy["name"], policy["description"]) == (
        "store2018-workload-boundary",
        "The most any role of store2018's main stack may do (created by its pipeline)",
    )
    for workspace in WORKSPACES:
        named(shared, "resource", "aws_iam_policy", f"workload_boundary_{workspace}")
        # The apply roles may not set it: only their workspace's boundary.
        found = apply_statements(shared, workspace)["WorkspaceRolesCarryTheBoundary"]
        assert conditions(found)[("StringEquals", "iam:PermissionsBoundary")] == [boundary_ref(shared, workspace)]


def test_the_shared_boundary_needs_the_pipeline() -> None:
    with pytest.raises(ConfigError, match=r"^ProjectSettings\.shared_workload_boundary = True is invalid: True only "
                       r"with ProjectSettings\.github_repository set.*Fix: set it back to False"):  # fmt: skip
        settings_with(shared_workload_boundary=True)


# The main stack's roles.


def test_every_main_stack_role_carries_its_workspaces_boundary_when_the_pipeline_exists(
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
    assert sorted(managed) == ([] if role == "plan" else [f"store2018-github-apply-{workspace}-keys",
                                                          f"store2018-github-apply-{workspace}-network",
                                                          f"store2018-github-apply-{workspace}-services"])  # fmt: skip
    # Every document of the role is one of its policies, and nothing else is.
    json_of = {f"${{data.aws_iam_policy_document.{a}.json}}": a for a in documents(created, role, workspace)}
    assert sorted(json_of) == sorted([*inline.values(), *managed.values()])
    inline_length = sum(rendered_length(documents(created, role, workspace)[json_of[p]]) for p in inline.values())
    assert inline_length < INLINE_LIMIT, inline_length
    for policy in managed.values():
        assert rendered_length(documents(created, role, workspace)[json_of[policy]]) < MANAGED_LIMIT


# The exploit, step by step, through the evaluator (security/iam_policy.py) on the resolved documents: the staging
# apply role (no approval, runs on every merge) and any role it can create, against prod's secret, key, roles and
# DNS name. Each refusal is checked against the previous main's statements too, where it was allowed.

REGION, ACCOUNT = iam_documents.REGION, iam_documents.ACCOUNT
STAGING_EXECUTION = f"arn:aws:iam::{ACCOUNT}:role/staging-store2018-account-execution"
PROD_EXECUTION = f"arn:aws:iam::{ACCOUNT}:role/prod-store2018-account-execution"
PROD_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0bad0000-0000-4000-8000-0000000000aa"
STAGING_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0bad0000-0000-4000-8000-0000000000bb"
KEY_TAGS = {"prod": {"aws:ResourceTag/Project": "store2018", "aws:ResourceTag/Workspace": "prod"},
            "staging": {"aws:ResourceTag/Project": "store2018", "aws:ResourceTag/Workspace": "staging"}}  # fmt: skip
ANYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
VIA_SSM = {"kms:ViaService": f"ssm.{REGION}.amazonaws.com"}


def request(action: str, resource: str = "*", context: dict[str, Any] | None = None) -> Request:
    """A request in the project's region (IAM, Route 53 and STS are global: no region key)."""
    regional = {} if action.split(":")[0] in ("iam", "route53", "sts") else {"aws:RequestedRegion": REGION}
    return Request(action, resource, {**regional, **(context or {})})


@pytest.fixture(scope="module")
def exploitable() -> dict[str, Any]:
    """This synthesis with the exploit's settings and a public zone."""
    return bootstrap(exploit_settings(SETTINGS, hosted_zone_id=iam_documents.ZONE_ID))


@pytest.fixture(scope="module")
def previous() -> dict[str, Any]:
    found: dict[str, Any] = json.loads((DATA / "shared-boundary-policies.json").read_text())
    return found


def staging_apply(template: dict[str, Any]) -> list[dict[str, Any]]:
    return iam_documents.role_documents(template, "apply", "staging")


def test_step_1_the_staging_apply_role_rewrites_only_roles_under_stagings_boundary(
    exploitable: dict[str, Any], previous: dict[str, Any]
) -> None:
    role = staging_apply(exploitable)
    staging, prod, shared = (iam_documents.boundary_arn(w) for w in ("staging", "prod", None))
    assert evaluate(request("iam:PutRolePolicy", STAGING_EXECUTION, {"iam:PermissionsBoundary": staging}), role).allowed
    for boundary in (prod, shared):  # a role under another boundary, or the shared one, is out of reach
        for action in ("iam:PutRolePolicy", "iam:CreateRole", "iam:PutRolePermissionsBoundary"):
            decision = evaluate(request(action, STAGING_EXECUTION, {"iam:PermissionsBoundary": boundary}), role)
            assert not decision.allowed, (action, boundary, decision)
    assert not evaluate(request("iam:CreateRole", STAGING_EXECUTION), role).allowed  # no boundary at all
    assert not evaluate(
        request("iam:PutRolePolicy", PROD_EXECUTION, {"iam:PermissionsBoundary": staging}), role
    ).allowed
    assert not evaluate(request("iam:DeleteRolePermissionsBoundary", STAGING_EXECUTION), role).allowed
    assert not evaluate(request("iam:AttachRolePolicy", STAGING_EXECUTION, {"iam:PermissionsBoundary": staging}),
                        role).allowed  # fmt: skip
    # Before: the one boundary every role carried was the apply role's to set.
    old = previous["apply_staging"]
    assert evaluate(request("iam:PutRolePolicy", STAGING_EXECUTION, {"iam:PermissionsBoundary": shared}), old).allowed


def test_step_2_no_role_under_stagings_boundary_reads_prods_secret_whatever_its_policy(
    exploitable: dict[str, Any], previous: dict[str, Any]
) -> None:
    staging = iam_documents.boundary_document(exploitable, "staging")
    steps = [request("ssm:GetParameters", PROD_PARAMETER), request("kms:Decrypt", PROD_SECRET_KEY, VIA_SSM),
             request("kms:Decrypt", PROD_SECRET_KEY, {**VIA_SSM, **KEY_TAGS["prod"]}),
             request("kms:Decrypt", PROD_KEY, KEY_TAGS["prod"]),
             request("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/prod-store2018/account:"
                     "log-stream:x")]  # fmt: skip
    for step in steps:
        assert not evaluate(step, [ANYTHING], staging).allowed, step
    # What staging's own workloads need stays allowed.
    assert evaluate(request("ssm:GetParameters", STAGING_PARAMETER), [ANYTHING], staging).allowed
    assert evaluate(request("kms:Decrypt", STAGING_KEY, KEY_TAGS["staging"]), [ANYTHING], staging).allowed
    # Before: prod's parameter and key were in the one boundary.
    shared = previous["shared_boundary"]
    assert evaluate(request("ssm:GetParameters", PROD_PARAMETER), [ANYTHING], shared).allowed
    assert evaluate(request("kms:Decrypt", PROD_SECRET_KEY, VIA_SSM), [ANYTHING], shared).allowed


def test_step_3_a_task_definition_may_name_prods_secret_but_its_roles_cannot_read_it(
    exploitable: dict[str, Any],
) -> None:
    """Registering the task definition and updating the service are the apply role's job; ECS reads the secret
    with the execution role, which carries staging's boundary (step 2), or with no role of prod's (PassRole)."""
    role = staging_apply(exploitable)
    family = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/staging-store2018-account:7"
    assert evaluate(request("ecs:RegisterTaskDefinition", family), role).allowed
    assert evaluate(request("iam:PassRole", STAGING_EXECUTION, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
                    role).allowed  # fmt: skip
    assert not evaluate(request("iam:PassRole", PROD_EXECUTION, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
                        role).allowed  # fmt: skip
    assert not evaluate(request("ecs:RegisterTaskDefinition", family.replace("staging-", "prod-")), role).allowed
    assert not evaluate(request("ecs:UpdateService", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod-store2018-cluster/"
                                "prod-store2018-account"), role).allowed  # fmt: skip
    # The apply role itself reads no secret and decrypts nothing of prod's.
    for step in (request("ssm:GetParameters", PROD_PARAMETER), request("kms:Decrypt", PROD_SECRET_KEY, VIA_SSM)):
        assert not evaluate(step, role).allowed


@pytest.mark.parametrize(
    ("action", "context"),
    [
        (
            "kms:TagResource",
            {
                "aws:RequestTag/Project": "store2018",
                "aws:RequestTag/Workspace": "staging",
                "aws:TagKeys": ["Project", "Workspace"],
            },
        ),
        ("kms:TagResource", {"aws:RequestTag/ManagedBy": "x", "aws:TagKeys": ["ManagedBy"]}),
        ("kms:UntagResource", {"aws:TagKeys": ["Workspace"]}),
        ("kms:UntagResource", {"aws:TagKeys": ["ManagedBy"]}),
        ("kms:PutKeyPolicy", {}),
        ("kms:ScheduleKeyDeletion", {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}),
        ("kms:ScheduleKeyDeletion", {}),
        ("kms:CreateAlias", {}),
        ("kms:DisableKey", {}),
        ("kms:Decrypt", {}),
    ],
)
def test_a_staging_role_cannot_tag_rekey_or_delete_a_prod_key(
    exploitable: dict[str, Any], previous: dict[str, Any], action: str, context: dict[str, Any]
) -> None:
    step = request(action, PROD_KEY, {**KEY_TAGS["prod"], **context})
    assert not evaluate(step, staging_apply(exploitable)).allowed
    if action in ("kms:TagResource", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"):  # before: any key in the region
        assert evaluate(step, previous["apply_staging"]).allowed


def test_staging_keys_are_created_and_kept_only_as_the_workspace_and_kms_require(
    exploitable: dict[str, Any], previous: dict[str, Any]
) -> None:
    role = staging_apply(exploitable)
    tags = {"aws:RequestTag/Project": "store2018", "aws:RequestTag/Workspace": "staging",
            "aws:RequestTag/ManagedBy": "cdktf", "aws:TagKeys": ["ManagedBy", "Project", "Workspace"]}  # fmt: skip
    allowed = [request("kms:CreateKey", "*", tags), request("kms:TagResource", "*", tags),  # CreateKey with tags
               request("kms:ScheduleKeyDeletion", STAGING_KEY, {**KEY_TAGS["staging"],
                                                                "kms:ScheduleKeyDeletionPendingWindowInDays": 30}),
               request("kms:ScheduleKeyDeletion", STAGING_KEY, KEY_TAGS["staging"]),  # no window asked: 30 days
               request("kms:PutKeyPolicy", STAGING_KEY, KEY_TAGS["staging"]),
               request("kms:EnableKeyRotation", STAGING_KEY, KEY_TAGS["staging"]),
               request("kms:CreateAlias", STAGING_KEY, KEY_TAGS["staging"]),
               request("kms:CreateAlias", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/staging-store2018-exec")]  # fmt: skip
    for step in allowed:
        assert evaluate(step, role).allowed, step
    refused = [
        request("kms:CreateKey", "*", {**tags, "aws:RequestTag/Workspace": "prod"}),
        request("kms:CreateKey", "*", {**tags, "aws:TagKeys": [*tags["aws:TagKeys"], "Owner"]}),
        request("kms:CreateKey", "*", {}),  # untagged
        request("kms:CreateKey", "*", {**tags, "kms:BypassPolicyLockoutSafetyCheck": True}),
        request("kms:PutKeyPolicy", STAGING_KEY, {**KEY_TAGS["staging"], "kms:BypassPolicyLockoutSafetyCheck": True}),
        request("kms:ScheduleKeyDeletion", STAGING_KEY, {**KEY_TAGS["staging"],
                                                         "kms:ScheduleKeyDeletionPendingWindowInDays": 7}),
        # A key of neither workspace (no tags) cannot be claimed for prod, nor the state key re-tagged.
        request("kms:TagResource", STAGING_KEY, {**tags, "aws:RequestTag/Workspace": "prod"}),
        request("kms:TagResource", iam_documents.STATE_KEY_ARN, tags),
        request("kms:PutKeyPolicy", iam_documents.STATE_KEY_ARN, KEY_TAGS["staging"]),
        request("kms:CreateAlias", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/prod-store2018-exec"),
        # Prod's secret key, which the settings name and the provider never tags, cannot be claimed either.
        request("kms:TagResource", PROD_SECRET_KEY, tags),
        request("kms:PutKeyPolicy", PROD_SECRET_KEY, KEY_TAGS["staging"]),
    ]  # fmt: skip
    for step in refused:
        assert not evaluate(step, role).allowed, step
    # Before: a seven-day deletion and a lockout bypass went through.
    assert evaluate(refused[5], previous["apply_staging"]).allowed
    assert evaluate(request("kms:CreateKey", "*", {"kms:BypassPolicyLockoutSafetyCheck": True}),
                    previous["apply_staging"]).allowed  # fmt: skip


def records(*names: str, types: tuple[str, ...] = ("A",)) -> dict[str, Any]:
    return {"route53:ChangeResourceRecordSetsNormalizedRecordNames": list(names),
            "route53:ChangeResourceRecordSetsRecordTypes": list(types)}  # fmt: skip


def test_dns_records_are_held_to_each_workspaces_own_name(
    exploitable: dict[str, Any], previous: dict[str, Any]
) -> None:
    zone = f"arn:aws:route53:::hostedzone/{iam_documents.ZONE_ID}"
    staging, prod = f"store2018test.{iam_documents.ZONE_NAME}", f"store2018.{iam_documents.ZONE_NAME}"
    role = staging_apply(exploitable)
    assert evaluate(request("route53:ChangeResourceRecordSets", zone, records(staging)), role).allowed
    for context in (records(prod), records(staging, prod), records(staging, types=("A", "TXT")), records()):
        assert not evaluate(request("route53:ChangeResourceRecordSets", zone, context), role).allowed, context
    other_zone = "arn:aws:route53:::hostedzone/ZOTHERZONE"
    assert not evaluate(request("route53:ChangeResourceRecordSets", other_zone, records(staging)), role).allowed
    prod_role = iam_documents.role_documents(exploitable, "apply", "prod")
    assert evaluate(request("route53:ChangeResourceRecordSets", zone, records(prod)), prod_role).allowed
    # Before: any record of any zone.
    assert evaluate(request("route53:ChangeResourceRecordSets", zone, records(prod)), previous["apply_staging"]).allowed


def test_stagings_plan_role_reads_neither_prods_state_nor_its_lock(exploitable: dict[str, Any]) -> None:
    bucket = "arn:aws:s3:::store2018-terraform-state"
    role = iam_documents.role_documents(exploitable, "plan", "staging")
    own, prods = f"{bucket}/env:/staging/store2018/terraform.tfstate", f"{bucket}/env:/prod/store2018/terraform.tfstate"
    assert evaluate(request("s3:GetObject", own), role).allowed
    assert evaluate(request("s3:GetObject", f"{own}.tflock"), role).allowed
    for action, resource in (("s3:GetObject", prods), ("s3:PutObject", f"{prods}.tflock"),
                             ("s3:DeleteObject", f"{prods}.tflock"), ("s3:PutObject", own),
                             ("s3:PutObject", f"{own}.tflock"), ("s3:DeleteObject", f"{own}.tflock")):  # fmt: skip
        assert not evaluate(request(action, resource), role).allowed, (action, resource)


def test_what_the_stacks_own_roles_need_stays_allowed(exploitable: dict[str, Any]) -> None:
    """The apply role's everyday requests on its workspace's roles, keys and state, and the workloads' own under
    their boundary (the Terraform-level test checks the recorded actions of a whole run)."""
    role, staging = staging_apply(exploitable), iam_documents.boundary_arn("staging")
    bucket = "arn:aws:s3:::store2018-terraform-state"
    for step in [
        request("iam:CreateRole", STAGING_EXECUTION, {"iam:PermissionsBoundary": staging}),
        request("iam:PutRolePermissionsBoundary", STAGING_EXECUTION, {"iam:PermissionsBoundary": staging}),
        request("iam:DeleteRole", STAGING_EXECUTION),
        request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/staging-store2018-flow-logs",
                {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"}),
        request("ecs:CreateService", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/staging-store2018-cluster/x"),
        request("logs:CreateLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/staging-store2018/account"),
        request("s3:PutObject", f"{bucket}/env:/staging/store2018/terraform.tfstate"),
        request("kms:GenerateDataKey", iam_documents.STATE_KEY_ARN, {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}),
        request("servicediscovery:CreatePrivateDnsNamespace"),
        request("servicediscovery:DeleteNamespace", f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:namespace/ns-1"),
    ]:  # fmt: skip
        assert evaluate(step, role).allowed, step
