"""The upgrade: a deployment made from the previous main's synthesis takes this synthesis without
replacing anything that holds traffic or data.

The previous main's `terraform/` (read from git at UPGRADE_BASE) is applied into an emulator (the
bootstrap, then every workspace), then this synthesis is planned over it: nothing is replaced or
destroyed (no subnet, NAT gateway, Elastic IP, VPC, load balancer, target group, ECS service, Cloud
Map resource, state bucket or key), the ECS services are updated in place. Then it is applied
(`wait_for_steady_state` included), a re-plan is empty, and the state objects, rewritten by that
apply, are encrypted with the state key. Move UPGRADE_BASE to the commit that last landed on main
whenever a change lands.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI, SETTINGS, settings_with

from local.deploy import LocalDeployment, workspaces
from local.emulated import BOOTSTRAP_STACK_DIR, ROOT, SYNTH_STACK_DIR, MotoServer, TerraformWorkdir
from store2018.app import STACK_NAME, build_app

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("upgrade")]

#: The main this change builds on (issue 13's last commit).
UPGRADE_BASE = "6fd4a3f9e58033c9d51162abcb97000554586331"
# Resources whose replacement would cut traffic, lose data or move the network.
MUST_STAY = (
    "aws_vpc", "aws_subnet", "aws_nat_gateway", "aws_eip", "aws_internet_gateway", "aws_lb", "aws_lb_listener",
    "aws_lb_target_group", "aws_ecs_cluster", "aws_ecs_service", "aws_service_discovery_private_dns_namespace",
    "aws_service_discovery_service", "aws_s3_bucket", "aws_kms_key",
)  # fmt: skip


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
class Upgrade:
    server: MotoServer
    deployment: LocalDeployment
    bootstrap_changes: list[dict[str, Any]]
    plans: dict[str, dict[str, Any]]
    workdir: TerraformWorkdir


def changes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan.get("resource_changes", []) if c["change"]["actions"] not in (["no-op"], ["read"])]


@pytest.fixture(scope="module")
def upgrade(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgrade]:
    folder = tmp_path_factory.mktemp("upgrade")
    previous = previous_synthesis(folder / "previous")
    server = MotoServer(folder / "emulator.log")
    deployment = LocalDeployment(folder / "work", server, echo=lambda prefix: lambda line: None)
    try:
        with TerraformWorkdir(previous / "bootstrap", folder / "work" / "bootstrap", server) as old_bootstrap:
            old_bootstrap.run("apply", "-auto-approve", "-input=false", timeout=900)
        with TerraformWorkdir(previous / "store2018", folder / "work" / "store2018", server,
                              create_state_bucket=False) as old:  # fmt: skip
            deployment.apply_all(workspaces(previous / "store2018"), old)

        with TerraformWorkdir(BOOTSTRAP_STACK_DIR, folder / "work" / "bootstrap", server) as bootstrap:
            bootstrap.run("plan", "-input=false", "-out=upgrade.tfplan")
            bootstrap_plan = json.loads(bootstrap.run("show", "-json", "upgrade.tfplan").output)
            bootstrap.run("apply", "-input=false", "upgrade.tfplan", timeout=900)
        workdir = TerraformWorkdir(SYNTH_STACK_DIR, folder / "work" / "store2018", server, create_state_bucket=False)
        plans = {ws: workdir.plan_json(ws) for ws in workspaces()}
        yield Upgrade(server, deployment, changes(bootstrap_plan), plans, workdir)
        workdir.close()
    finally:
        server.stop()


def summary(found: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{'/'.join(c['change']['actions'])} {c['address']}" for c in found)


def test_the_bootstrap_does_not_change(upgrade: Upgrade) -> None:
    assert upgrade.bootstrap_changes == [], summary(upgrade.bootstrap_changes)


@pytest.mark.parametrize("workspace", sorted(SETTINGS.environments))
def test_nothing_that_holds_traffic_or_data_is_replaced(upgrade: Upgrade, workspace: str) -> None:
    found = changes(upgrade.plans[workspace])
    print(f"\nupgrade plan of {workspace}:\n  " + "\n  ".join(summary(found)))
    replaced_or_destroyed = [c for c in found if "delete" in c["change"]["actions"]]
    assert [c["address"] for c in replaced_or_destroyed if c["type"] in MUST_STAY] == []
    assert replaced_or_destroyed == [], summary(replaced_or_destroyed)
    # Updated in place: the services (rollback alarms, exec, steady state), the cluster (exec logging) and
    # the task roles' descriptions.
    updated = {c["type"] for c in found if c["change"]["actions"] == ["update"]}
    assert updated == {"aws_ecs_service", "aws_ecs_cluster", "aws_iam_role"}, summary(found)
    assert len([c for c in found if c["type"] == "aws_ecs_service"]) == len(SETTINGS.services)
    created = {c["type"] for c in found if c["change"]["actions"] == ["create"]}
    assert {"aws_cloudwatch_metric_alarm", "aws_sns_topic", "aws_cloudwatch_dashboard"} <= created


def test_after_the_upgrade_the_state_is_encrypted_with_the_state_key(upgrade: Upgrade) -> None:
    applied = upgrade.deployment.apply_all(workspaces(), upgrade.workdir)
    assert set(applied) == set(workspaces())
    for workspace in workspaces():
        replan = upgrade.workdir.run("plan", "-input=false", "-detailed-exitcode", check=False, workspace=workspace)
        assert replan.returncode == 0, replan.output
    s3 = upgrade.server.client("s3")
    state = SETTINGS.project.state_backend
    key_arn = upgrade.server.client("kms").describe_key(KeyId="alias/store2018-terraform-state")["KeyMetadata"]["Arn"]
    for workspace in workspaces():
        head = s3.head_object(Bucket=state.bucket, Key=f"{state.workspace_key_prefix}/{workspace}/{state.key}")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] in (key_arn, "alias/store2018-terraform-state"), head


def test_pinning_the_zones_in_use_changes_no_subnet(upgrade: Upgrade, tmp_path: Path) -> None:
    """What the README tells an existing deployment to do: copy each subnet pair's zone id, in index order,
    into `zone_ids`. The plan then moves nothing."""
    ec2 = upgrade.server.client("ec2")

    def zone_id(name: str) -> str:
        (subnet,) = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [name]}])["Subnets"]
        found: str = subnet["AvailabilityZoneId"]
        return found

    pinned = tuple(zone_id(f"prod-store2018-private-{i}") for i in range(SETTINGS.project.az_count))
    assert pinned == tuple(zone_id(f"prod-store2018-public-{i}") for i in range(SETTINGS.project.az_count))
    environments = {**SETTINGS.environments, "prod": replace(SETTINGS.environments["prod"], zone_ids=pinned)}
    build_app(outdir=str(tmp_path / "out"), settings=settings_with(environments=environments)).synth()
    upgrade.workdir.close()  # one command per working copy
    with TerraformWorkdir(tmp_path / "out" / "stacks" / STACK_NAME, upgrade.workdir.path, upgrade.server,
                          create_state_bucket=False) as pinned_workdir:  # fmt: skip
        plan = pinned_workdir.plan_json("prod")
    assert {c["type"] for c in changes(plan)} == set(), summary(changes(plan))
