"""The pipeline's IAM against the emulator: the upgrade from the shared boundary, and least privilege from a record.

One emulator records every call (local/emulator.py, `--record`), each Terraform run naming its phase and
workspace. With the pipeline on (a repository named), a secret of staging's own, a prod-only parameter under
its own key, a public zone, a certificate, e-mail alarms, ECS Exec and access logs in both workspaces:

1. the previous main (PREVIOUS_MAIN, from git) is deployed: its bootstrap, then both workspaces (apply);
2. this bootstrap with `shared_workload_boundary` on adds each workspace's boundary beside the shared one,
   which it leaves unchanged;
3. each workspace is planned and applied as the pipeline does (delivery/plans.py: saved plan, refresh-only
   plan, the saved plan applied): its roles move to their workspace's boundary, in place;
4. this bootstrap with `shared_workload_boundary` off retires the shared boundary, which no role carries;
5. both workspaces are destroyed.

Then: the applied documents, read back from the emulator's IAM, refuse the issue's exploit through the
evaluator; the gate's IAM rule passes the pipeline's plans and refuses a role that trusts another account;
and each role is held against the record: it names every action its runs called (the plan role: plans;
the apply role: plans, applies and destroys; by name: resources and conditions are checked for the state
calls, and in the evaluator's scenarios), and nothing more than `UNRECORDED` explains.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI

from delivery import plans
from local.deploy import lifted_protection_override
from local.emulated import ROOT, MotoServer, TerraformWorkdir, phase, read_synthesis
from security import iam_gate
from security.iam_policy import Request, action_matches, allowed_actions, evaluate
from security.iam_record import Call, read_record
from store2018.pipeline_policies import UNGRANTED, UNRECORDED

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("iam")]

#: The main whose shared boundary this change replaces (issue 20's last commit).
PREVIOUS_MAIN = "437c14983c8ec1057066b252d03cab9036b92ec2"
WORKSPACES = ("staging", "prod")
REPOSITORY = "octo-org/store2018"
# Builds the settings in the process of whichever main synthesises (the previous one's API is the same).
_SYNTHESISE = """
import dataclasses, json, sys
sys.path[:0] = [".", "constructs", "tests"]
from conftest import SETTINGS, settings_with
from store2018.app import build_app
from store2018.settings import Alerting, Secret, ServiceOverrides
given = json.loads(sys.argv[1])
staging_secret = Secret(arn=given["staging_parameter"])
account = dataclasses.replace(SETTINGS.services["account"], secrets={"DB_PASSWORD": staging_secret})
prod_secret = Secret(arn=given["prod_parameter"], kms_key_arn=given["prod_key"])
environments = {}
for name, env in SETTINGS.environments.items():
    environments[name] = dataclasses.replace(
        env, certificate_arn=given["certificate"], ecs_exec=True, alb_access_logs_bucket=given["logs_bucket"],
        alerting=Alerting(email="oncall@example.com"),
        services={"account": ServiceOverrides(secrets={"DB_PASSWORD": prod_secret})} if name == "prod" else {})
for outdir, project in given["outputs"].items():
    settings = settings_with(services={**SETTINGS.services, "account": account}, environments=environments,
                             github_repository=given["repository"], hosted_zone_id=given["zone"], **project)
    build_app(outdir=outdir, settings=settings).synth()
"""


@dataclass
class World:
    server: MotoServer
    folder: Path
    given: dict[str, Any]
    previous: Path  # the previous main's stacks
    kept: Path  # this synthesis, the shared boundary kept
    retired: Path  # this synthesis, the shared boundary retired
    bootstrap_plans: dict[str, dict[str, Any]]  # "kept", "retired"
    saved: dict[str, dict[str, Any]]  # each workspace's saved plan (JSON)
    replans: dict[str, int]  # `plan -detailed-exitcode` after the upgrade
    roles: dict[str, dict[str, Any]]  # after the upgrade: each role's boundary and documents
    boundaries: dict[str, dict[str, Any]]  # each workspace's boundary document, as IAM holds it
    keys: dict[str, tuple[str, dict[str, str]]]  # each workspace's exec key: its ARN and tags
    shared_policy_left: bool
    calls: list[Call]
    seconds: dict[str, float]


def synthesise(source: Path, folder: Path, given: dict[str, Any], outputs: dict[str, dict[str, Any]]) -> None:
    """Run `_SYNTHESISE` with `source`'s code: one synthesis per output folder (its extra project settings)."""
    arguments = json.dumps({**given, "outputs": {str(folder / name): project for name, project in outputs.items()}})
    done = subprocess.run([sys.executable, "-c", _SYNTHESISE, arguments], cwd=source, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]


def previous_main(folder: Path) -> Path:
    """The previous main's sources from git, with this checkout's installed environments."""
    archive = subprocess.run(["git", "archive", "--format=tar", PREVIOUS_MAIN], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        reason = f"the previous main {PREVIOUS_MAIN} is not in this clone's history: {archive.stderr.decode()}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    folder.mkdir(parents=True)
    (folder / "source.tar").write_bytes(archive.stdout)
    with tarfile.open(folder / "source.tar") as tar:
        tar.extractall(folder, filter="data")
    for name in (".venv", "node_modules"):
        (folder / name).symlink_to(ROOT / name)
    return folder


def prepare(server: MotoServer) -> dict[str, Any]:
    """What the settings name that exists outside Terraform: the zone, a certificate, the secrets and keys, the
    access-log bucket."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    client = server.client
    zone = client("route53").create_hosted_zone(Name="example.com", CallerReference="store2018")["HostedZone"]["Id"]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "store2018.example.com")])
    now = time.time()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.fromtimestamp(now - 60, datetime.UTC))
        .not_valid_after(datetime.datetime.fromtimestamp(now + 86400, datetime.UTC))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    imported = client("acm").import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )["CertificateArn"]
    ssm = client("ssm")
    ssm.put_parameter(Name="/store2018/staging/db-password", Value="staging-value", Type="SecureString")
    prod_key = client("kms").create_key(Description="prod's parameters")["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name="/store2018/prod/db-password", Value="prod-value", Type="SecureString", KeyId=prod_key)
    client("s3").create_bucket(
        Bucket="store2018-alb-logs", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return {
        "repository": REPOSITORY,
        "zone": zone.split("/")[-1],
        "certificate": imported,
        "staging_parameter": ssm.get_parameter(Name="/store2018/staging/db-password")["Parameter"]["ARN"],
        "prod_parameter": ssm.get_parameter(Name="/store2018/prod/db-password")["Parameter"]["ARN"],
        "prod_key": prod_key,
        "logs_bucket": "store2018-alb-logs",
    }


def bootstrap_plan_and_apply(workdir: TerraformWorkdir) -> dict[str, Any]:
    workdir.run("plan", "-input=false", "-out=bootstrap.tfplan", extra_env=phase("bootstrap"))
    shown: dict[str, Any] = json.loads(workdir.run("show", "-json", "bootstrap.tfplan").output)
    workdir.run("apply", "-input=false", "bootstrap.tfplan", extra_env=phase("bootstrap"), timeout=900)
    return shown


def iam_snapshot(server: MotoServer) -> dict[str, dict[str, Any]]:
    """Every role the emulator's IAM holds: its boundary, and its inline and attached policies' documents."""
    iam = server.client("iam")
    found = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        detail = iam.get_role(RoleName=name)["Role"]
        inline = [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                  for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]  # fmt: skip
        attached = []
        for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
            attached.append(iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)["PolicyVersion"][
                "Document"])  # fmt: skip
        found[name] = {"boundary": detail.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
                       "documents": [*inline, *attached]}  # fmt: skip
    return found


def workspace_key(server: MotoServer, workspace: str) -> tuple[str, dict[str, str]]:
    """A key the workspace's main stack created (ECS Exec's), with its tags as a request would carry them."""
    kms = server.client("kms")
    key = kms.describe_key(KeyId=f"alias/{workspace}-store2018-exec")["KeyMetadata"]
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]}
    return key["Arn"], {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def managed_policy(server: MotoServer, name: str) -> dict[str, Any] | None:
    iam = server.client("iam")
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        if policy["PolicyName"] == name:
            version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
            document: dict[str, Any] = version["PolicyVersion"]["Document"]
            return document
    return None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("iam")
    server = MotoServer(folder / "emulator.log", record=folder / "calls.jsonl")
    seconds: dict[str, float] = {}

    def timed(name: str, started: float) -> None:
        seconds[name] = time.monotonic() - started

    try:
        given = prepare(server)
        started = time.monotonic()
        synthesise(previous_main(folder / "previous-source"), folder, given, {"previous": {}})
        synthesise(ROOT, folder, given, {"kept": {"shared_workload_boundary": True}, "retired": {}})
        timed("syntheses", started)
        previous, kept, retired = (folder / name / "stacks" for name in ("previous", "kept", "retired"))

        started = time.monotonic()
        with TerraformWorkdir(previous / "bootstrap", folder / "work" / "bootstrap", server) as workdir:
            workdir.run("apply", "-auto-approve", "-input=false", extra_env=phase("bootstrap"), timeout=900)

        def deploy_previous(workspace: str) -> None:
            with TerraformWorkdir(previous / "store2018", folder / "work" / workspace, server,
                                  create_state_bucket=False) as workdir:  # fmt: skip
                workdir.run("workspace", "select", "-or-create", workspace, extra_env=phase(f"apply-{workspace}"))
                workdir.run("apply", "-auto-approve", "-input=false", workspace=workspace, timeout=1800,
                            extra_env=phase(f"apply-{workspace}"))  # fmt: skip

        with ThreadPoolExecutor(len(WORKSPACES)) as pool:
            list(pool.map(deploy_previous, WORKSPACES))
        timed("previous main deployed", started)

        started = time.monotonic()
        bootstrap_plans = {}
        with TerraformWorkdir(kept / "bootstrap", folder / "work" / "bootstrap", server) as workdir:
            bootstrap_plans["kept"] = bootstrap_plan_and_apply(workdir)
        saved_dir = folder / "delivery" / "plans"

        def upgrade(workspace: str) -> tuple[dict[str, Any], int]:
            stack = kept / "store2018"
            with TerraformWorkdir(stack, folder / "work" / workspace, server, create_state_bucket=False) as workdir:
                workdir.env.update(phase(f"plan-{workspace}"))
                saved = plans.plan(workdir, workspace, saved_dir, stack_dir=stack)
                planned = saved.plan()  # the apply removes the saved plan
                workdir.env.update(phase(f"apply-{workspace}"))
                plans.apply(workdir, workspace, saved_dir, stack_dir=stack)
                workdir.env.update(phase(f"plan-{workspace}"))
                replan = workdir.run("plan", "-input=false", "-lock=false", "-detailed-exitcode", workspace=workspace,
                                     check=False, timeout=900)  # fmt: skip
                return planned, replan.returncode

        with ThreadPoolExecutor(len(WORKSPACES)) as pool:
            upgraded = dict(zip(WORKSPACES, pool.map(upgrade, WORKSPACES), strict=True))
        roles = iam_snapshot(server)
        boundaries = {ws: managed_policy(server, f"store2018-workload-boundary-{ws}") or {} for ws in WORKSPACES}
        keys = {ws: workspace_key(server, ws) for ws in WORKSPACES}
        with TerraformWorkdir(retired / "bootstrap", folder / "work" / "bootstrap", server) as workdir:
            bootstrap_plans["retired"] = bootstrap_plan_and_apply(workdir)
        shared_left = managed_policy(server, "store2018-workload-boundary") is not None
        timed("upgrade", started)

        started = time.monotonic()

        def destroy(workspace: str) -> None:
            stack = retired / "store2018"
            with TerraformWorkdir(stack, folder / "work" / workspace, server, create_state_bucket=False) as workdir:
                workdir.env.update(phase(f"destroy-{workspace}"))
                with workdir.overriding("lift_protection", lifted_protection_override(stack)):
                    workdir.run("apply", "-auto-approve", "-input=false", workspace=workspace, timeout=1800)
                    workdir.run("destroy", "-auto-approve", "-input=false", workspace=workspace, timeout=1800)

        with ThreadPoolExecutor(len(WORKSPACES)) as pool:
            list(pool.map(destroy, WORKSPACES))
        timed("destroyed", started)
        calls = read_record(folder / "calls.jsonl")
        print(f"\nIAM upgrade and recorded runs: {', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())}; "
              f"{len(calls)} calls recorded")  # fmt: skip
        yield World(server, folder, given, previous, kept, retired, bootstrap_plans,
                    {ws: plan for ws, (plan, _) in upgraded.items()}, {ws: rc for ws, (_, rc) in upgraded.items()},
                    roles, boundaries, keys, shared_left, calls, seconds)  # fmt: skip
    finally:
        server.stop()


def changed(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan.get("resource_changes", []) if c["change"]["actions"] not in (["no-op"], ["read"])]


def boundary_arn(workspace: str | None) -> str:
    return f"arn:aws:iam::123456789012:policy/store2018-workload-boundary{'' if workspace is None else '-' + workspace}"


# The upgrade: bootstrap first, then each workspace, then the shared boundary retired.


def test_the_bootstrap_adds_each_workspaces_boundary_and_leaves_the_shared_one(world: World) -> None:
    plan = world.bootstrap_plans["kept"]
    (shared,) = [c for c in plan["resource_changes"] if c["type"] == "aws_iam_policy"
                 and (c["change"]["before"] or {}).get("name") == "store2018-workload-boundary"]  # fmt: skip
    assert shared["change"]["actions"] == ["no-op"]
    found = changed(plan)
    assert not [c["address"] for c in found if "delete" in c["change"]["actions"]]
    created = sorted(c["change"]["after"]["name"] for c in found
                     if c["change"]["actions"] == ["create"] and c["type"] == "aws_iam_policy")  # fmt: skip
    assert created == ["store2018-github-apply-prod-keys", "store2018-github-apply-staging-keys",
                       "store2018-workload-boundary-prod", "store2018-workload-boundary-staging"]  # fmt: skip
    assert {c["type"] for c in found} <= {"aws_iam_policy", "aws_iam_role_policy", "aws_iam_role_policy_attachment",
                                          "aws_iam_role"}  # fmt: skip
    # Roles change in place, and only the pipeline roles' trust (the OIDC subject, issue 22) and the plan
    # roles' description, which says whom they trust.
    roles = [c for c in found if c["type"] == "aws_iam_role"]
    assert {tuple(c["change"]["actions"]) for c in roles} <= {("update",)}
    for role in roles:
        before, after, unknown = role["change"]["before"], role["change"]["after"], role["change"]["after_unknown"]
        moved = {key for key in {*before, *after} if before.get(key) != after.get(key) or unknown.get(key)}
        assert role["change"]["before"]["name"].startswith("store2018-github-"), role["address"]
        assert "assume_role_policy" in moved and moved <= {"assume_role_policy", "description"}, (role["address"],
                                                                                                   moved)  # fmt: skip


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_each_workspace_moves_its_roles_to_its_own_boundary_in_place(world: World, workspace: str) -> None:
    found = changed(world.saved[workspace])
    assert found and {c["type"] for c in found} == {"aws_iam_role"}, [c["address"] for c in found]
    for change in found:
        assert change["change"]["actions"] == ["update"]
        before, after = change["change"]["before"], change["change"]["after"]
        assert (before["permissions_boundary"], after["permissions_boundary"]) == (boundary_arn(None),
                                                                                   boundary_arn(workspace))  # fmt: skip
    mine = {name: role for name, role in world.roles.items() if name.startswith(f"{workspace}-store2018-")}
    assert len(mine) == len(found) and {role["boundary"] for role in mine.values()} == {boundary_arn(workspace)}
    assert world.replans[workspace] == 0  # nothing left to change


def test_the_shared_boundary_is_retired_once_no_role_carries_it(world: World) -> None:
    found = changed(world.bootstrap_plans["retired"])
    assert [(c["change"]["actions"], c["change"]["before"]["name"]) for c in found] == [
        (["delete"], "store2018-workload-boundary")]  # fmt: skip
    assert not world.shared_policy_left
    assert not [name for name, role in world.roles.items() if role["boundary"] == boundary_arn(None)]


# The applied documents, as IAM holds them, through the evaluator.


def regional(action: str, resource: str = "*", context: dict[str, Any] | None = None) -> Request:
    return Request(action, resource, {"aws:RequestedRegion": "us-west-2", **(context or {})})


def test_the_applied_documents_refuse_the_exploit_and_allow_the_workloads(world: World) -> None:
    staging_apply = world.roles["store2018-github-apply-staging"]["documents"]
    execution = "staging-store2018-account-execution"
    arn = f"arn:aws:iam::123456789012:role/{execution}"
    assert evaluate(Request("iam:PutRolePolicy", arn, {"iam:PermissionsBoundary": boundary_arn("staging")}),
                    staging_apply).allowed  # fmt: skip
    for boundary in (boundary_arn("prod"), boundary_arn(None)):
        assert not evaluate(Request("iam:PutRolePolicy", arn, {"iam:PermissionsBoundary": boundary}),
                            staging_apply).allowed  # fmt: skip
    anything = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    staging = world.boundaries["staging"]
    prod_key, prod_tags = world.keys["prod"]
    for step in (regional("ssm:GetParameters", world.given["prod_parameter"]),
                 regional("kms:Decrypt", world.given["prod_key"], {"kms:ViaService": "ssm.us-west-2.amazonaws.com"}),
                 regional("kms:Decrypt", prod_key, prod_tags)):  # fmt: skip
        assert not evaluate(step, anything, staging).allowed, step
        assert not evaluate(step, staging_apply).allowed, step
    for action in ("kms:TagResource", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:UntagResource"):
        assert not evaluate(regional(action, prod_key, prod_tags), staging_apply).allowed, action
    # The workloads' own, with their applied policies under their boundary.
    role = world.roles[execution]
    assert role["boundary"] == boundary_arn("staging")
    assert evaluate(regional("ssm:GetParameters", world.given["staging_parameter"]), role["documents"], staging).allowed
    staging_key, staging_tags = world.keys["staging"]
    task = world.roles["staging-store2018-account-task"]
    assert evaluate(regional("kms:Decrypt", staging_key, staging_tags), task["documents"], staging).allowed
    prod_execution = world.roles["prod-store2018-account-execution"]
    assert evaluate(regional("ssm:GetParameters", world.given["prod_parameter"]), prod_execution["documents"],
                    world.boundaries["prod"]).allowed  # fmt: skip
    assert evaluate(regional("kms:Decrypt", world.given["prod_key"], {"kms:ViaService": "ssm.us-west-2.amazonaws.com"}),
                    prod_execution["documents"], world.boundaries["prod"]).allowed  # fmt: skip


# The gate's IAM rule on the pipeline's plans.


def test_the_gates_iam_rule_passes_the_pipelines_plans(world: World) -> None:
    table = read_synthesis(world.kept / "store2018")["locals"]["environments"]
    for workspace, plan in world.saved.items():
        checked, refused = iam_gate.plan_refusals(plan, iam_gate.Target(workspace, "store2018", table))
        assert (checked > 20, refused) == (True, [])


def test_make_gate_refuses_a_role_that_trusts_another_account(world: World, tmp_path: Path) -> None:
    """A merged change adds a role under staging's boundary that another account may assume: IAM would let the
    apply role create it; the gate refuses the plan."""
    synthesis = read_synthesis(world.retired / "store2018")
    foreign = {"AWS": "arn:aws:iam::999999999999:root"}
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": foreign}]}  # fmt: skip
    synthesis["resource"]["aws_iam_role"]["backdoor"] = {
        "name": "${local.workspace}-store2018-backdoor", "assume_role_policy": json.dumps(trust),
        "permissions_boundary": boundary_arn("staging")}  # fmt: skip
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "cdk.tf.json").write_text(json.dumps(synthesis))
    with TerraformWorkdir(stack, tmp_path / "work", world.server, create_state_bucket=False) as workdir:
        plan = workdir.plan_json("staging")
    table = synthesis["locals"]["environments"]
    _, refused = iam_gate.plan_refusals(plan, iam_gate.Target("staging", "store2018", table))
    assert [r for r in refused if r.startswith("aws_iam_role.backdoor: its trust policy names")] == [
        'aws_iam_role.backdoor: its trust policy names {"AWS": "arn:aws:iam::999999999999:root"}: the stack\'s roles '
        "may trust only ecs-tasks.amazonaws.com, vpc-flow-logs.amazonaws.com (IAM cannot refuse it: no condition key "
        "inspects a trust policy). Fix: trust the AWS service the role is for"]  # fmt: skip
    # The same plan through the gate's command, as `make gate` runs it (checkov and the rule, one report).
    plan_file = tmp_path / "staging.plan.json"
    plan_file.write_text(json.dumps(plan))
    if not (ROOT / ".checkov" / "bin" / "checkov").exists():
        message = ".checkov/ is not installed (make test installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([sys.executable, "-m", "security.checkov_gate", f"--plan=staging={plan_file}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:]
    assert "FAILED  STORE2018_IAM aws_iam_role.backdoor: its trust policy names" in done.stdout


# Least privilege, from the record.


def runs(world: World) -> dict[tuple[str, str], list[Call]]:
    """The recorded calls by (kind, workspace): `plan`, `apply`, `destroy`."""
    found: dict[tuple[str, str], list[Call]] = {}
    for call in world.calls:
        kind, _, workspace = call.phase.partition("-")
        if kind in ("plan", "apply", "destroy") and workspace in WORKSPACES:
            found.setdefault((kind, workspace), []).append(call)
    return found


def role_documents(world: World, role: str, workspace: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = world.roles[f"store2018-github-{role}-{workspace}"]["documents"]
    return documents


def test_the_record_holds_every_phase_of_both_workspaces(world: World) -> None:
    found = runs(world)
    assert sorted(found) == sorted((kind, ws) for kind in ("apply", "destroy", "plan") for ws in WORKSPACES)
    assert all(len(calls) > 50 for calls in found.values()), {k: len(v) for k, v in found.items()}
    assert [c for c in world.calls if c.operation == "?"] == []  # every request's operation was named


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_each_role_names_every_action_its_runs_called(world: World, workspace: str) -> None:
    found = runs(world)
    for role, kinds in (("plan", ("plan",)), ("apply", ("plan", "apply", "destroy"))):
        granted = allowed_actions(role_documents(world, role, workspace))
        needed = {c.action for kind in kinds for c in found[(kind, workspace)]} - set(UNGRANTED)
        missing = sorted(a for a in needed if not any(action_matches(g, a) for g in granted))
        assert missing == [], f"the {role} role of {workspace} misses actions its runs called"


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_each_role_allows_nothing_beyond_the_record_but_what_unrecorded_explains(world: World, workspace: str) -> None:
    recorded = {c.action for calls in runs(world).values() for c in calls}
    for role in ("plan", "apply"):
        granted = allowed_actions(role_documents(world, role, workspace))
        assert [a for a in granted if "*" in a or "?" in a] == [], "actions are listed, not matched by wildcards"
        beyond = sorted(granted - recorded)
        assert [a for a in beyond if a not in UNRECORDED] == [], f"the {role} role allows actions no run called"
        print(f"{role} role of {workspace}: {len(granted)} actions, {len(beyond)} beyond the record: "
              + ", ".join(beyond))  # fmt: skip
    apply_granted = allowed_actions(role_documents(world, "apply", workspace))
    # Every explanation is still needed: not recorded, and granted; what is deliberately not granted was called.
    assert sorted(a for a in UNRECORDED if a in recorded) == []
    assert sorted(a for a in UNRECORDED if a not in apply_granted) == []
    assert sorted(a for a in UNGRANTED if a not in recorded or a in apply_granted) == []


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_state_calls_touch_only_the_workspaces_own_state_and_its_roles_allow_each(world: World, workspace: str) -> None:
    bucket = "arn:aws:s3:::store2018-terraform-state"
    own = f"{bucket}/env:/{workspace}/store2018/terraform.tfstate"
    for (kind, ws), calls in runs(world).items():
        if ws != workspace:
            continue
        documents = role_documents(world, "plan" if kind == "plan" else "apply", workspace)
        for call in calls:
            if call.service != "s3":
                continue
            assert call.resource in (bucket, own, f"{own}.tflock"), (kind, call)
            assert evaluate(Request(call.action, call.resource), documents).allowed, (kind, call)
