"""The delivery pipeline's steps end to end against the emulator, as the workflows run them, on an upgrade.

The previous main's `terraform/` (read from git at UPGRADE_BASE) is deployed into an emulator (the
bootstrap, then every workspace): production as it runs today. Someone changes staging behind
Terraform's back (a log group's retention). Then the driver's steps (delivery/): `drift` finds that
change; `plan` saves each workspace's plan of this synthesis (with a refresh-only plan beside it); the
review report is checked against the plan JSON it came from (counts, groups, call-outs, cost lines);
`apply` applies the saved plans (the drift put back, nothing that holds traffic or data replaced), once.
Then images by digest: a digest pinned in staging's manifest is promoted to prod, planned, applied and
found in prod's container definition; a rollback puts the previous image back, and of two plans of the
rollback (two pipeline runs) the second is refused as stale. Move UPGRADE_BASE to the commit that last
landed on main whenever a change lands.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI, SETTINGS, project_copy, settings_with

from delivery import costs, driver, plans, promotion, report
from local.deploy import LocalDeployment, workspaces
from local.emulated import BOOTSTRAP_STACK_DIR, ROOT, SYNTH_STACK_DIR, MotoServer, TerraformWorkdir
from store2018.app import STACK_NAME, build_app
from store2018.releases import read_release

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("delivery")]

#: The main this change builds on (issue 20's last commit).
UPGRADE_BASE = "437c14983c8ec1057066b252d03cab9036b92ec2"
# Resources whose replacement would cut traffic, lose data or move the network.
MUST_STAY = (
    "aws_vpc", "aws_subnet", "aws_nat_gateway", "aws_eip", "aws_internet_gateway", "aws_lb", "aws_lb_listener",
    "aws_lb_target_group", "aws_ecs_cluster", "aws_ecs_service", "aws_service_discovery_private_dns_namespace",
    "aws_service_discovery_service", "aws_s3_bucket", "aws_kms_key",
)  # fmt: skip
SERVICES = sorted(SETTINGS.services)
DRIFTED_LOG_GROUP = "/ecs/staging-store2018/account"
DIGEST = "sha256:" + "5e" * 32
OTHER_DIGEST = "sha256:" + "0d" * 32  # an older image's, say
#: Set to a file path to keep the review report this run wrote (the README shows one).
REVIEW_EXAMPLE = os.environ.get("STORE2018_REVIEW_EXAMPLE")


def previous_synthesis(folder: Path) -> Path:
    """The previous main's stacks, as committed at UPGRADE_BASE (`<folder>/stacks/<name>/cdk.tf.json`)."""
    for stack in ("bootstrap", "store2018"):
        shown = subprocess.run(
            ["git", "show", f"{UPGRADE_BASE}:terraform/stacks/{stack}/cdk.tf.json"],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        if shown.returncode != 0:
            reason = f"the upgrade base {UPGRADE_BASE} is not in this clone's history: {shown.stderr.strip()}"
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
        (folder / "stacks" / stack).mkdir(parents=True)
        (folder / "stacks" / stack / "cdk.tf.json").write_text(shown.stdout)
    return folder / "stacks"


@dataclass
class Pipeline:
    server: MotoServer
    folder: Path
    bootstrap_changes: list[dict[str, Any]]
    drift_before: list[plans.Drift]
    plans: dict[str, dict[str, Any]]  # what `plan` saved, as JSON
    review: dict[str, Any]  # the review report's JSON
    review_markdown: str
    workdir: TerraformWorkdir


def changes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan.get("resource_changes", []) if c["change"]["actions"] not in (["no-op"], ["read"])]


@pytest.fixture(scope="module")
def pipeline(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    folder = tmp_path_factory.mktemp("delivery")
    previous = previous_synthesis(folder / "previous")
    server = MotoServer(folder / "emulator.log")
    deployment = LocalDeployment(folder / "work", server, echo=lambda prefix: lambda line: None)
    try:
        with TerraformWorkdir(previous / "bootstrap", folder / "work" / "bootstrap", server) as old_bootstrap:
            old_bootstrap.run("apply", "-auto-approve", "-input=false", timeout=900)
        with TerraformWorkdir(previous / "store2018", folder / "work" / "store2018", server,
                              create_state_bucket=False) as old:  # fmt: skip
            deployment.apply_all(workspaces(previous / "store2018"), old)
        # Out of band: someone shortens a log group's retention in the console.
        server.client("logs").put_retention_policy(logGroupName=DRIFTED_LOG_GROUP, retentionInDays=1)

        with TerraformWorkdir(BOOTSTRAP_STACK_DIR, folder / "work" / "bootstrap", server) as bootstrap:
            bootstrap.run("plan", "-input=false", "-out=upgrade.tfplan")
            bootstrap_plan = json.loads(bootstrap.run("show", "-json", "upgrade.tfplan").output)
            bootstrap.run("apply", "-input=false", "upgrade.tfplan", timeout=900)
        workdir = TerraformWorkdir(SYNTH_STACK_DIR, folder / "work" / "store2018", server, create_state_bucket=False)
        plans_dir = folder / "delivery" / "plans"  # where the driver's CLI looks, with STORE2018_DELIVERY_DIR
        drift_before = plans.drift(workdir, "staging", plans_dir)
        saved = {ws: plans.plan(workdir, ws, plans_dir) for ws in workspaces()}
        # The review as the workflows make it: `python -m delivery review` (`make review`).
        env = {**os.environ, "STORE2018_DELIVERY_DIR": str(folder / "delivery")}
        done = subprocess.run([sys.executable, "-m", "delivery", "review"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        markdown = (folder / "delivery" / "reports" / "review.md").read_text()
        reviewed = json.loads((folder / "delivery" / "reports" / "review.json").read_text())
        if REVIEW_EXAMPLE:
            Path(REVIEW_EXAMPLE).write_text(markdown)
        planned = {ws: s.plan() for ws, s in saved.items()}
        yield Pipeline(server, folder, changes(bootstrap_plan), drift_before, planned, reviewed, markdown, workdir)
        workdir.close()
    finally:
        server.stop()


def summary(found: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{'/'.join(c['change']['actions'])} {c['address']}" for c in found)


def test_the_bootstrap_does_not_change(pipeline: Pipeline) -> None:
    assert pipeline.bootstrap_changes == [], summary(pipeline.bootstrap_changes)


def test_drift_finds_a_change_made_behind_terraforms_back(pipeline: Pipeline) -> None:
    assert len(pipeline.drift_before) == 1, pipeline.drift_before
    (found,) = pipeline.drift_before
    assert found.type == "aws_cloudwatch_log_group" and found.address.startswith(
        "aws_cloudwatch_log_group.service_account_logs_"
    )
    assert (found.actions, found.attributes) == (("update",), ("retention_in_days",))
    staging = pipeline.review["workspaces"]["staging"]
    assert staging["drift"] == [{"address": found.address, "type": found.type, "actions": ["update"],
                                 "attributes": ["retention_in_days"]}]  # fmt: skip
    assert pipeline.review["workspaces"]["prod"]["drift"] == []
    assert f"- `{found.address}`: update outside Terraform (retention_in_days)" in pipeline.review_markdown
    # The plan puts it back as configured.
    (put_back,) = [c for c in changes(pipeline.plans["staging"]) if c["address"] == found.address]
    assert put_back["change"]["after"]["retention_in_days"] == SETTINGS.environments["staging"].log_retention_days


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_the_review_counts_what_the_plan_does(pipeline: Pipeline, workspace: str) -> None:
    plan, reviewed = pipeline.plans[workspace], pipeline.review["workspaces"][workspace]
    kinds = {("create",): "add", ("update",): "change", ("delete",): "destroy", ("delete", "create"): "replace",
             ("create", "delete"): "replace"}  # fmt: skip
    expected = sorted((c["address"], kinds[tuple(c["change"]["actions"])]) for c in changes(plan)
                      if c.get("mode") != "data")  # fmt: skip
    assert sorted((c["address"], c["action"]) for c in reviewed["changes"]) == expected
    counted = Counter(kind for _, kind in expected)
    assert reviewed["counts"] == {k: counted.get(k, 0) for k in ("add", "change", "replace", "destroy")}
    by_type = Counter(c["type"] for c in changes(plan) if c.get("mode") != "data")
    assert {t: sum(n.values()) for t, n in reviewed["by_type"].items()} == dict(by_type)
    for entry in reviewed["changes"]:
        name = entry["address"].split(".")[1]
        prefixes = ("service_{}_", "load_balancer_target_{}_", "load_balancer_rule_{}_")
        owner = [s for s in SERVICES if name.startswith(tuple(p.format(s) for p in prefixes))]
        assert entry["service"] == (owner[0] if owner else "shared"), entry
    # The upgrade replaces or destroys nothing that holds traffic or data: no call-out.
    replaced = [c for c in changes(plan) if "delete" in c["change"]["actions"]]
    assert [c["address"] for c in replaced if c["type"] in MUST_STAY] == []
    assert replaced == [] and reviewed["call_outs"] == [], summary(replaced)
    header = f"## `{workspace}`: {counted['add']} to add, {counted['change']} to change, 0 to replace, 0 to destroy"
    assert header in pipeline.review_markdown


def planned(plan: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r["values"] for r in costs.state_resources(plan["planned_values"]) if r["type"] == resource_type]


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_the_review_prices_what_the_plan_holds(pipeline: Pipeline, workspace: str) -> None:
    plan, cost = pipeline.plans[workspace], pipeline.review["workspaces"][workspace]["cost"]
    assert (cost["region"], cost["priced"]) == (SETTINGS.project.region, True)
    items = {item["item"]: item for item in cost["items"]}
    hours = cost["hours_per_month"]
    tasks = {t["family"]: t for t in planned(plan, "aws_ecs_task_definition")}
    vcpu = sum(int(tasks[s["name"]]["cpu"]) / 1024 * s["desired_count"] for s in planned(plan, "aws_ecs_service"))
    memory = sum(int(tasks[s["name"]]["memory"]) / 1024 * s["desired_count"] for s in planned(plan, "aws_ecs_service"))
    expected = {
        "NAT gateway hours": len(planned(plan, "aws_nat_gateway")) * hours,
        "Load balancer hours": len(planned(plan, "aws_lb")) * hours,
        "Fargate vCPU": vcpu * hours,
        "Fargate memory": memory * hours,
        "Public IPv4 addresses": (len(planned(plan, "aws_eip")) + len(planned(plan, "aws_lb")[0]["subnets"])) * hours,
        "CloudWatch alarms, standard resolution": len(planned(plan, "aws_cloudwatch_metric_alarm")),
        "CloudWatch dashboards": len(planned(plan, "aws_cloudwatch_dashboard")),
        "KMS keys": len(planned(plan, "aws_kms_key")),
    }
    assert {item: items[item]["after_quantity"] for item in expected} == pytest.approx(expected)
    # An upgrade that adds or removes nothing priced: the same bill before and after.
    assert all(items[item]["before_quantity"] == items[item]["after_quantity"] for item in expected)
    assert cost["total"]["change_usd"] == 0 and cost["total"]["after_usd"] > 0
    assert "| Fargate vCPU |" in pipeline.review_markdown


def test_the_saved_plans_apply_exactly_and_only_once(pipeline: Pipeline) -> None:
    for workspace in workspaces():  # staging first, as the pipeline does
        plans.apply(pipeline.workdir, workspace, pipeline.folder / "delivery" / "plans")
    for workspace in workspaces():
        replan = pipeline.workdir.run("plan", "-input=false", "-detailed-exitcode", check=False, workspace=workspace)
        assert replan.returncode == 0, replan.output
    retention = pipeline.server.client("logs").describe_log_groups(logGroupNamePrefix=DRIFTED_LOG_GROUP)
    assert retention["logGroups"][0]["retentionInDays"] == SETTINGS.environments["staging"].log_retention_days
    with pytest.raises(plans.DriverError, match="no saved plan of staging"):
        plans.apply(pipeline.workdir, "staging", pipeline.folder / "delivery" / "plans")


def test_after_the_upgrade_the_state_is_encrypted_with_the_state_key(pipeline: Pipeline) -> None:
    s3 = pipeline.server.client("s3")
    state = SETTINGS.project.state_backend
    kms = pipeline.server.client("kms")
    key_arn = kms.describe_key(KeyId="alias/store2018-terraform-state")["KeyMetadata"]["Arn"]
    for workspace in workspaces():
        head = s3.head_object(Bucket=state.bucket, Key=f"{state.workspace_key_prefix}/{workspace}/{state.key}")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] in (key_arn, "alias/store2018-terraform-state"), head


def prod_account_image(server: MotoServer) -> str:
    ecs = server.client("ecs")
    (service,) = ecs.describe_services(cluster="prod-store2018-cluster", services=["prod-store2018-account"])[
        "services"
    ]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = task["containerDefinitions"]
    image: str = container["image"]
    return image


@pytest.fixture(scope="module")
def project(pipeline: Pipeline) -> Path:
    """A copy of the project whose release manifests the promotion tests rewrite."""
    return project_copy(pipeline.folder / "project")


def working_copy(pipeline: Pipeline, project: Path) -> TerraformWorkdir:
    """The main stack's working copy, re-initialised on the project copy's synthesis."""
    pipeline.workdir.close()  # one command per working copy
    pipeline.workdir = TerraformWorkdir(project / "terraform" / "stacks" / STACK_NAME, pipeline.workdir.path,
                                        pipeline.server, create_state_bucket=False)  # fmt: skip
    return pipeline.workdir


def test_a_digest_promoted_from_staging_reaches_prods_container(pipeline: Pipeline, project: Path) -> None:
    releases = project / "releases"
    pinned = promotion.pin("staging", "account", DIGEST, root=project, folder=releases)
    assert pinned.images == {"account": ("latest", DIGEST)}
    promoted = promotion.promote("staging", "prod", root=project, folder=releases)
    assert promoted.images == {"account": ("latest", DIGEST)}
    assert set(promoted.skipped) == set(SERVICES) - {"account"}  # staging runs those by tag: not promoted
    assert read_release(releases / "prod.json").previous == {"account": "latest"}

    stack = project / "terraform" / "stacks" / STACK_NAME
    workdir = working_copy(pipeline, project)
    saved = plans.plan(workdir, "prod", pipeline.folder / "promote", stack_dir=stack, refresh_only=False)
    reviewed_prod = report.review(saved, SERVICES, costs.load_prices(), stack_dir=stack)
    reviewed = report.as_json([reviewed_prod], None)["workspaces"]["prod"]
    assert {(c["type"], c["action"], c["service"]) for c in reviewed["changes"]} == {
        ("aws_ecs_task_definition", "replace", "account"), ("aws_ecs_service", "change", "account")}  # fmt: skip
    assert reviewed["call_outs"] == [] and reviewed["cost"]["total"]["change_usd"] == 0
    review_json = pipeline.folder / "promote-review.json"
    review_json.write_text(json.dumps(report.as_json([reviewed_prod], None)))

    # A look-alike: another digest is the same addresses and actions, other planned values. Refused.
    manifest = (releases / "prod.json").read_text()
    promotion.pin("prod", "account", OTHER_DIGEST, root=project, folder=releases)
    workdir = working_copy(pipeline, project)  # on the look-alike's synthesis
    look_alike = plans.plan(workdir, "prod", pipeline.folder / "look-alike", stack_dir=stack, refresh_only=False)
    with pytest.raises(plans.DriverError, match=r"not reviewed: aws_ecs_task_definition\.\S+ replace \(other "):
        driver.compare_with_review(look_alike, review_json, SERVICES)
    (releases / "prod.json").write_text(manifest)
    promotion.synthesise(project)
    workdir = working_copy(pipeline, project)
    driver.compare_with_review(saved, review_json, SERVICES)  # the reviewed plan itself: allowed
    plans.apply(workdir, "prod", pipeline.folder / "promote", stack_dir=stack)
    assert prod_account_image(pipeline.server) == f"jeremycookdev/accountservice@{DIGEST}"


def test_a_rollback_puts_the_previous_image_back_and_a_stale_plan_is_refused(pipeline: Pipeline, project: Path) -> None:
    releases = project / "releases"
    rolled = promotion.rollback("prod", root=project, folder=releases)
    assert rolled.images == {"account": (DIGEST, "latest")}
    assert read_release(releases / "prod.json").previous == {"account": DIGEST}  # a rollback can be undone

    stack = project / "terraform" / "stacks" / STACK_NAME
    workdir = working_copy(pipeline, project)
    first, second = pipeline.folder / "run-1", pipeline.folder / "run-2"  # two pipeline runs of the same commit
    for folder in (first, second):
        plans.plan(workdir, "prod", folder, stack_dir=stack, refresh_only=False)
    plans.apply(workdir, "prod", first, stack_dir=stack)
    assert prod_account_image(pipeline.server) == "jeremycookdev/accountservice:latest"
    with pytest.raises(plans.StalePlan, match="the state of prod changed since the plan"):
        plans.apply(workdir, "prod", second, stack_dir=stack)
    replan = workdir.run("plan", "-input=false", "-detailed-exitcode", check=False, workspace="prod")
    assert replan.returncode == 0, replan.output


def test_a_plan_of_another_synthesis_is_refused(pipeline: Pipeline, project: Path, tmp_path: Path) -> None:
    """Cheap (no Terraform run): the saved plan names the synthesis it came from."""
    stack = project / "terraform" / "stacks" / STACK_NAME
    saved = plans.SavedPlan("prod", plans.private_folder(tmp_path / "plans"))
    saved.plan_file.write_text("")
    record = plans.PlanRecord("prod", "0" * 64, None, None, 0.0, None)
    saved.record_file.write_text(json.dumps(record.__dict__))
    with pytest.raises(plans.StalePlan, match="made from another synthesis"):
        plans.check_fresh(saved, pipeline.workdir, stack_dir=stack)


def test_pinning_the_zones_in_use_changes_no_subnet(pipeline: Pipeline, tmp_path: Path) -> None:
    """What the README tells an existing deployment to do: copy each subnet pair's zone id, in index order,
    into `zone_ids`. The plan then moves nothing."""
    ec2 = pipeline.server.client("ec2")

    def zone_id(name: str) -> str:
        (subnet,) = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [name]}])["Subnets"]
        found: str = subnet["AvailabilityZoneId"]
        return found

    pinned = tuple(zone_id(f"prod-store2018-private-{i}") for i in range(SETTINGS.project.az_count))
    assert pinned == tuple(zone_id(f"prod-store2018-public-{i}") for i in range(SETTINGS.project.az_count))
    environments = {**SETTINGS.environments, "prod": replace(SETTINGS.environments["prod"], zone_ids=pinned)}
    build_app(outdir=str(tmp_path / "out"), settings=settings_with(environments=environments)).synth()
    pipeline.workdir.close()  # one command per working copy
    with TerraformWorkdir(tmp_path / "out" / "stacks" / STACK_NAME, pipeline.workdir.path, pipeline.server,
                          create_state_bucket=False) as pinned_workdir:  # fmt: skip
        plan = pinned_workdir.plan_json("prod")
    assert {c["type"] for c in changes(plan)} == set(), summary(changes(plan))
    shutil.rmtree(tmp_path / "out")


def test_replacing_subnets_and_nat_gateways_is_called_out_first(pipeline: Pipeline, tmp_path: Path) -> None:
    """A change of staging's VPC range replaces its network: the review lists what holds traffic first."""
    environments = {**SETTINGS.environments, "staging": replace(SETTINGS.environments["staging"],
                                                               vpc_cidr="172.31.0.0/16")}  # fmt: skip
    build_app(outdir=str(tmp_path / "out"), settings=settings_with(environments=environments)).synth()
    stack = tmp_path / "out" / "stacks" / STACK_NAME
    pipeline.workdir.close()
    with TerraformWorkdir(stack, pipeline.workdir.path, pipeline.server, create_state_bucket=False) as workdir:
        saved = plans.plan(workdir, "staging", tmp_path / "plans", stack_dir=stack, refresh_only=False)
    plan = saved.plan()
    reviewed = report.review(saved, SERVICES, costs.load_prices(), stack_dir=stack)
    stateful = set(report.STATEFUL_OR_SHARED)
    expected = sorted(
        c["address"] for c in changes(plan) if c["type"] in stateful and "delete" in c["change"]["actions"]
    )
    assert sorted(c.address for c in report.call_outs(reviewed.changes)) == expected
    assert {a.split(".")[0] for a in expected} >= {"aws_vpc", "aws_subnet", "aws_nat_gateway"}
    text = report.markdown([reviewed], None)
    first_table = text.index("| service |")
    assert all(text.index(f"`{address}`") < first_table for address in expected)
