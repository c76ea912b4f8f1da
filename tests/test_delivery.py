"""The delivery driver's pieces without Terraform: drift filtering, the review's grouping and call-outs,
release manifests and their validation, pin/promote/rollback on a copy of the manifests, stale plans.
End to end against the emulator: test_terraform_delivery.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SETTINGS, settings_with

from delivery import costs, plans, promotion, report, targets
from delivery import driver as driver_module
from delivery.driver import main as driver
from local.emulated import ROOT, TerraformResult
from store2018.checks import ConfigError
from store2018.releases import Release, image_reference, read_release, write_release

DIGEST_A, DIGEST_B = "sha256:" + "a1" * 32, "sha256:" + "b2" * 32
SERVICES = sorted(SETTINGS.services)


def refresh_plan(drift: list[dict[str, Any]], configured: dict[str, list[str]]) -> dict[str, Any]:
    resources = [{"address": a, "expressions": {k: {} for k in keys}} for a, keys in configured.items()]
    return {"resource_drift": drift, "configuration": {"root_module": {"resources": resources}}}


def drifted(address: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
            actions: tuple[str, ...] = ("update",)) -> dict[str, Any]:  # fmt: skip
    return {"address": address, "type": address.split(".")[0],
            "change": {"actions": list(actions), "before": before, "after": after}}  # fmt: skip


def test_drift_is_what_the_configuration_sets_changed_or_a_resource_gone() -> None:
    plan = refresh_plan(
        [
            drifted(
                "aws_cloudwatch_log_group.logs",
                {"retention_in_days": 7, "tags": None, "arn": "x"},
                {"retention_in_days": 1, "tags": {}, "arn": "y"},
            ),
            # Filled by aws_route resources, not configured here: not drift.
            drifted(
                "aws_route_table.private",
                {"route": [], "vpc_id": "v", "tags_all": None},  # a refresh reads unset tags back as {}
                {"route": [{"cidr": "0.0.0.0/0"}], "vpc_id": "v", "tags_all": {}},
            ),
            drifted("aws_security_group.tasks[0]", {"tags_all": {"Team": "a"}}, {"tags_all": {"Team": "b"}}),
            drifted("aws_eip.nat", {"domain": "vpc"}, None, ("delete",)),
        ],
        {
            "aws_cloudwatch_log_group.logs": ["retention_in_days", "name"],
            "aws_route_table.private": ["vpc_id"],
            "aws_security_group.tasks": ["name"],
            "aws_eip.nat": ["domain"],
        },
    )
    found = plans.drift_of(plan)
    assert [(d.address, d.actions, d.attributes) for d in found] == [
        ("aws_cloudwatch_log_group.logs", ("update",), ("retention_in_days",)),
        ("aws_security_group.tasks[0]", ("update",), ("tags_all",)),  # a tag changed in the console
        ("aws_eip.nat", ("delete",), ("domain",)),
    ]
    text = report.drift_markdown("staging", found)
    assert "- `aws_cloudwatch_log_group.logs`: update (retention_in_days)" in text
    assert report.drift_markdown("staging", []).startswith("No drift in `staging`")


def change(address: str, *actions: str) -> dict[str, Any]:
    return {"address": address, "type": address.split(".")[0], "mode": "managed", "change": {"actions": list(actions)}}


def test_the_review_groups_by_service_and_calls_out_stateful_replacements_first() -> None:
    plan = {
        "resource_changes": [
            change("aws_ecs_task_definition.service_account_task_F2B61A8E", "delete", "create"),
            change("aws_ecs_service.service_account_service_C5E344B5", "update"),
            change("aws_lb_target_group.load_balancer_target_shopping_83552B70", "create"),
            change("aws_nat_gateway.network_nat_B2CD8D5F", "create", "delete"),
            change("aws_subnet.network_private_subnet_0_D39C5390", "delete"),
            change("aws_vpc.network_vpc_4E8F0223", "no-op"),
            {**change("data.aws_caller_identity.account", "read"), "mode": "data"},
        ]
    }
    found = report.changes_of(plan, SERVICES, b"key")
    assert [(c.group, c.kind) for c in found] == [
        ("account", "replace"),
        ("account", "change"),
        ("shopping", "add"),
        ("shared", "replace"),
        ("shared", "destroy"),
    ]
    assert [c.address for c in report.call_outs(found)] == ["aws_nat_gateway.network_nat_B2CD8D5F",
                                                           "aws_subnet.network_private_subnet_0_D39C5390"]  # fmt: skip
    # A task definition is replaced on every image change: not a call-out.
    assert report.group_of("aws_iam_role.service_store2018_task_role_1", SERVICES) == "store2018"
    assert report.group_of("aws_lb.load_balancer_alb_027FD642", SERVICES) == "shared"


def test_an_image_is_the_catalogs_repository_at_the_manifests_digest_or_tag() -> None:
    assert image_reference("jeremycookdev/store2018", DIGEST_A) == f"jeremycookdev/store2018@{DIGEST_A}"
    assert image_reference("jeremycookdev/store2018", "1.4.2") == "jeremycookdev/store2018:1.4.2"


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ({"account": "v1 beta"}, "images.account = 'v1 beta' is invalid: a digest 'sha256:<64"),
        ({"account": "sha256:" + "A" * 64}, "images.account"),
        ({"account": "${var.x}"}, "images.account = '${var.x}'"),
        ({"payment": "latest"}, "images = 'payment' is invalid: a service of the catalog"),
    ],
)
def test_a_bad_manifest_entry_is_refused_naming_file_value_and_fix(images: dict[str, str], message: str) -> None:
    release = Release({**SETTINGS.releases["prod"].images, **images}, source="releases/prod.json")
    with pytest.raises(ConfigError, match="Fix: ") as refused:
        settings_with(releases={"prod": release})
    assert f"releases/prod.json: {message}" in str(refused.value)


def test_a_missing_service_or_manifest_is_refused() -> None:
    images = dict(SETTINGS.releases["prod"].images)
    del images["account"]
    with pytest.raises(ConfigError, match="every service of the catalog, missing account"):
        settings_with(releases={"prod": Release(images, source="releases/prod.json")})
    with pytest.raises(ConfigError, match=r"releases/prod.json = None is invalid: a release manifest"):
        type(SETTINGS)(project=SETTINGS.project, environments=SETTINGS.environments, services=SETTINGS.services,
                       releases={"staging": SETTINGS.releases["staging"]})  # fmt: skip


def test_a_tag_is_a_warning_naming_the_services_and_refused_where_the_environment_requires_digests() -> None:
    (warning,) = [w for w in SETTINGS.warnings() if w.startswith("releases/prod.json")]
    assert "prod runs account ('latest'), inventory ('latest')" in warning and "require_image_digests" in warning
    strict = {**SETTINGS.environments, "prod": replace(SETTINGS.environments["prod"], require_image_digests=True)}
    with pytest.raises(ConfigError, match=r"images.account = 'latest' is invalid: a digest: ENVIRONMENTS\['prod'\]"):
        settings_with(environments=strict)
    pinned = Release(dict.fromkeys(SETTINGS.services, DIGEST_A), source="releases/prod.json")
    digests_only = settings_with(environments=strict, releases={"prod": pinned})
    assert not [w for w in digests_only.warnings() if w.startswith("releases/prod.json")]


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "releases"
    folder.mkdir()
    for workspace, release in SETTINGS.releases.items():
        write_release(folder / f"{workspace}.json", release)
    return folder


def no_synth(root: Path) -> None:
    return None


def test_pin_promote_and_rollback_rewrite_the_manifests(manifests: Path, tmp_path: Path) -> None:
    promotion.pin("staging", "account", DIGEST_A, root=tmp_path, folder=manifests, synth=no_synth)
    promotion.pin("staging", "inventory", DIGEST_B, root=tmp_path, folder=manifests, synth=no_synth)
    promoted = promotion.promote("staging", "prod", root=tmp_path, folder=manifests, synth=no_synth)
    assert promoted.images == {"account": ("latest", DIGEST_A), "inventory": ("latest", DIGEST_B)}
    assert set(promoted.skipped) == {"shopping", "store2018"}
    prod = read_release(manifests / "prod.json")
    assert prod.images == {**SETTINGS.releases["prod"].images, "account": DIGEST_A, "inventory": DIGEST_B}
    assert prod.previous == {"account": "latest", "inventory": "latest"}
    assert json.loads((manifests / "prod.json").read_text())["images"]["account"] == DIGEST_A  # sorted, whole
    again = promotion.promote("staging", "prod", root=tmp_path, folder=manifests, synth=no_synth)
    assert again.images == {}  # nothing new: nothing rewritten
    rolled = promotion.rollback("prod", root=tmp_path, folder=manifests, synth=no_synth)
    assert rolled.images == {"account": (DIGEST_A, "latest"), "inventory": (DIGEST_B, "latest")}
    assert read_release(manifests / "prod.json").images == SETTINGS.releases["prod"].images


def test_a_refused_synthesis_puts_the_manifest_back(manifests: Path, tmp_path: Path) -> None:
    before = (manifests / "staging.json").read_text()

    def refuse(root: Path) -> None:
        raise plans.DriverError("the synthesis refused the new manifest")

    with pytest.raises(plans.DriverError):
        promotion.pin("staging", "account", DIGEST_A, root=tmp_path, folder=manifests, synth=refuse)
    assert (manifests / "staging.json").read_text() == before
    with pytest.raises(plans.DriverError, match="is invalid"):
        promotion.pin("staging", "account", "not a tag!", root=tmp_path, folder=manifests, synth=no_synth)
    with pytest.raises(plans.DriverError, match="records no previous images"):
        promotion.rollback("staging", root=tmp_path, folder=manifests, synth=no_synth)


class ScriptedWorkdir:
    """Answers each Terraform command from a script: `workspace select`, `state pull` (serials in turn), the
    refresh-only plan and its `show`; the state lock as given. Records every command."""

    def __init__(self, path: Path, *, exists: bool = True, serials: tuple[int, ...] = (7, 7),
                 lock: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.path, self.exists, self.serials, self.lock = path, exists, list(serials), lock
        self.ran: list[tuple[str, ...]] = []

    def run(self, *args: str, **kwargs: Any) -> TerraformResult:
        self.ran.append(args)
        if args[:2] == ("workspace", "select"):
            missing = f'Workspace "{args[2]}" doesn\'t exist.'
            return TerraformResult(0, "") if self.exists else TerraformResult(1, missing)
        if args == ("state", "pull"):
            return TerraformResult(0, json.dumps({"lineage": "L", "serial": self.serials.pop(0)}))
        if args[0] == "plan":
            return TerraformResult(0, "")
        assert args[0] == "show", args
        return TerraformResult(0, json.dumps({"resource_drift": []}))

    def select_workspace(self, workspace: str) -> None:
        raise AssertionError("plans and drift never create a workspace")

    def s3_client(self) -> Any:
        lock = self.lock

        class S3:
            def get_object(self, **_: Any) -> dict[str, Any]:
                if lock is None:
                    raise type("NoSuchKey", (Exception,), {"response": {"Error": {"Code": "NoSuchKey"}}})()
                return {"Body": io.BytesIO(json.dumps(lock).encode())}

        return S3()


def test_a_saved_plan_is_refused_when_the_state_or_the_synthesis_moved(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "cdk.tf.json").write_text("{}")
    saved = plans.SavedPlan("prod", plans.private_folder(tmp_path / "plans"))
    saved.plan_file.write_text("")
    record = plans.PlanRecord("prod", plans.synthesis_hash(stack), "L", 7, 0.0, None)
    saved.record_file.write_text(json.dumps(record.__dict__))
    assert plans.check_fresh(saved, ScriptedWorkdir(tmp_path, serials=(7,)), stack_dir=stack) == record
    with pytest.raises(plans.StalePlan, match="L/7 -> L/8"):
        plans.check_fresh(saved, ScriptedWorkdir(tmp_path, serials=(8,)), stack_dir=stack)
    (stack / "cdk.tf.json").write_text('{"changed": true}')
    with pytest.raises(plans.StalePlan, match="made from another synthesis"):
        plans.check_fresh(saved, ScriptedWorkdir(tmp_path, serials=(7,)), stack_dir=stack)


def test_plans_and_drift_never_create_a_workspace(tmp_path: Path) -> None:
    """The S3 backend creates a workspace by locking and writing its state: the plan roles may do neither."""
    stack = ROOT / "terraform" / "stacks" / "store2018"
    missing = ScriptedWorkdir(tmp_path, exists=False)
    for attempt in (lambda: plans.plan(missing, "prod", tmp_path / "plans", stack_dir=stack),
                    lambda: plans.drift(missing, "prod", tmp_path / "plans", stack_dir=stack)):  # fmt: skip
        with pytest.raises(plans.NoWorkspace, match=r"the workspace prod has no state in the backend yet.*"
                           r"`make workspaces TARGET=aws` as an administrator"):  # fmt: skip
            attempt()
    assert missing.ran == [("workspace", "select", "prod")] * 2  # no -or-create, and nothing after it
    makefile = (ROOT / "Makefile").read_text()
    assert "\nworkspaces: setup\n\t$(DRIVER) workspaces\n" in makefile


def test_drift_is_not_checked_while_an_apply_holds_the_lock_or_ran_meanwhile(tmp_path: Path) -> None:
    stack = ROOT / "terraform" / "stacks" / "store2018"
    now = datetime.now(UTC)
    held = {"ID": "abc", "Operation": "OperationTypeApply", "Who": "runner@gh",
            "Created": (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.%f123Z")}  # fmt: skip
    with pytest.raises(plans.ApplyInProgress, match="locked \\(lock ID abc, OperationTypeApply by runner@gh"):
        plans.drift(ScriptedWorkdir(tmp_path, lock=held), "staging", tmp_path / "plans", stack_dir=stack)
    # A lock older than any apply runs was left by a killed run: an error that says how to lift it, not "busy".
    stale = {**held, "Created": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S.%f123Z")}
    with pytest.raises(plans.DriverError, match=r"locked for 180 min .* a killed run left it.* force-unlock abc") as e:
        plans.drift(ScriptedWorkdir(tmp_path, lock=stale), "staging", tmp_path / "plans", stack_dir=stack)
    assert not isinstance(e.value, plans.ApplyInProgress)
    # No lock before or after, but the state's serial moved during the refresh: an apply came and went.
    with pytest.raises(plans.ApplyInProgress, match="changed during the check: an apply ran"):
        plans.drift(ScriptedWorkdir(tmp_path, serials=(7, 8)), "staging", tmp_path / "plans", stack_dir=stack)
    assert plans.drift(ScriptedWorkdir(tmp_path), "staging", tmp_path / "plans", stack_dir=stack) == []


def test_make_workspaces_creates_each_workspace_after_checking_its_account(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert driver(["--target", "aws", "workspaces"]) == 1  # the shipped tables name no account
    assert "TARGET=aws refused for prod: EnvironmentSettings.allowed_account_ids is empty" in capsys.readouterr().err
    created: list[str] = []

    class Copy:
        def select_workspace(self, workspace: str) -> None:
            created.append(workspace)

    @contextmanager
    def workdir(target: str) -> Iterator[Copy]:
        assert target == "local"
        yield Copy()

    monkeypatch.setattr(driver_module, "workdir", workdir)
    assert driver(["workspaces"]) == 0
    assert created == list(SETTINGS.environments) == driver_module.workspaces()


def test_aws_is_refused_for_an_environment_without_its_account(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The shipped environments name no account: a prod plan with staging's credentials would go ahead."""
    monkeypatch.setattr(driver_module, "workdir", lambda *a: pytest.fail("reached Terraform"))
    for command in (["plan", "prod"], ["apply", "prod"], ["drift", "staging"]):
        assert driver(["--target", "aws", *command]) == 1
        error = capsys.readouterr().err
        assert f"TARGET=aws refused for {command[1]}: EnvironmentSettings.allowed_account_ids is empty" in error
        assert "constructs/store2018/environments.py" in error and "`make synth`" in error
    named = json.loads(json.dumps(driver_module.synthesis()))
    named["locals"]["environments"]["prod"]["allowed_account_ids"] = ["111122223333"]
    monkeypatch.setattr(driver_module, "synthesis", lambda: named)
    driver_module.check_account("aws", "prod")  # named: allowed
    driver_module.check_account("local", "staging")  # the emulator's own account


def test_aws_is_initialised_only_with_the_committed_provider_lock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No lock, or a lock of another version: refused before Terraform runs. With it: init is read-only to it."""
    ran: list[list[str]] = []

    def terraform(command: list[str], **_: Any) -> TerraformResult:
        ran.append(command)
        return TerraformResult(0, "")

    monkeypatch.setattr(targets, "run_interruptible", terraform)
    stack = ROOT / "terraform" / "stacks" / "store2018"
    pinned = json.loads((stack / "cdk.tf.json").read_text())["terraform"]["required_providers"]["aws"]["version"]
    lock = tmp_path / "terraform.lock.hcl"
    with pytest.raises(plans.DriverError, match=rf"no provider lock {lock} \(the AWS provider {pinned}'s hashes.*"
                       r"run `make provider-lock` on a machine that reaches registry.terraform.io"):  # fmt: skip
        targets.AwsWorkdir(stack, tmp_path / "work", lock)
    entry = 'provider "registry.terraform.io/hashicorp/aws" {{\n  version     = "{}"\n  hashes = ["h1:x="]\n}}\n'
    lock.write_text(entry.format("6.0.0"))
    with pytest.raises(plans.DriverError, match=rf"locks the AWS provider at 6.0.0, the synthesis pins {pinned}: run"):
        targets.AwsWorkdir(stack, tmp_path / "work", lock)
    assert ran == []
    lock.write_text(entry.format(pinned))
    targets.AwsWorkdir(stack, tmp_path / "work", lock)
    assert ran == [["terraform", "init", "-no-color", "-input=false", "-reconfigure", "-lockfile=readonly"]]
    assert (tmp_path / "work" / ".terraform.lock.hcl").read_text() == lock.read_text()
    assert targets.PROVIDER_LOCK == ROOT / "toolchain" / "terraform.lock.hcl"  # where `make provider-lock` writes
    assert "PROVIDER_LOCK := toolchain/terraform.lock.hcl" in (ROOT / "Makefile").read_text()


def test_the_driver_refuses_an_unknown_workspace_or_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert driver(["plan", "qa"]) == 1
    assert "WORKSPACE='qa' is not a workspace of the environments table (prod, staging)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        driver(["--target", "production", "plan", "prod"])


def test_drift_leaves_out_what_ignore_changes_hands_to_others() -> None:
    """Autoscaling moves an ECS service's desired count (`ignore_changes`): not drift, or every day would be."""
    service = "aws_ecs_service.service_account_service_C5E344B5"
    plan = refresh_plan([drifted(service, {"desired_count": 2, "task_definition": "a:1"},
                                 {"desired_count": 5, "task_definition": "a:1"})],
                        {service: ["desired_count", "task_definition"]})  # fmt: skip
    synthesis = json.loads((ROOT / "terraform" / "stacks" / "store2018" / "cdk.tf.json").read_text())
    ignored = plans.ignored_changes(synthesis)
    assert ignored[service] == {"desired_count"}
    assert plans.drift_of(plan, ignored) == []
    assert [d.attributes for d in plans.drift_of(plan)] == [("desired_count",)]


def saved_plan(folder: Path, workspace: str, stack: Path, changes: list[dict[str, Any]], commit: str | None) -> None:
    saved = plans.SavedPlan(workspace, plans.private_folder(folder))
    saved.plan_file.write_text("")
    saved.plan_json.write_text(json.dumps({"resource_changes": changes}))
    record = plans.PlanRecord(workspace, plans.synthesis_hash(stack), "L", 3, 1764536400.0, commit)
    saved.record_file.write_text(json.dumps(record.__dict__))


def test_the_review_says_when_and_from_what_it_planned_and_marks_a_stale_plan(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "cdk.tf.json").write_text("{}")
    saved_plan(tmp_path / "plans", "prod", stack, [change("aws_ecs_service.service_account_service_1", "update")],
               "0123456789abcdef")  # fmt: skip
    prices = costs.load_prices()
    reviewed = report.review(plans.SavedPlan("prod", tmp_path / "plans"), SERVICES, prices, stack_dir=stack)
    text = report.markdown([reviewed], None)
    assert "Planned at 2025-11-30 21:00 UTC from commit `0123456789ab`." in text and "**Stale:**" not in text
    assert "Not run for these plans" in text  # no gate summary: said, not invented
    (stack / "cdk.tf.json").write_text('{"changed": true}')
    stale = report.review(plans.SavedPlan("prod", tmp_path / "plans"), SERVICES, prices, stack_dir=stack)
    assert "**Stale:** terraform/ changed since this plan" in report.markdown([stale], None)
    assert report.as_json([stale], None)["workspaces"]["prod"]["stale"] is True


def task_change(image: str, *actions: str) -> dict[str, Any]:
    """A task definition's change as a plan shows it: planned values, one unknown, one sensitive."""
    entry = change("aws_ecs_task_definition.service_account_task_1", *actions)
    entry["change"].update(
        after={"family": "prod-store2018-account", "container_definitions": json.dumps([{"image": image}]),
               "tags": {"Owner": "shop"}},
        after_unknown={"arn": True, "revision": True}, after_sensitive={"tags": {"Owner": True}},
    )  # fmt: skip
    return entry


def reviewed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planned: list[dict[str, Any]],
                  commit: str | None = "c0ffee") -> Path:  # fmt: skip
    """A review of `planned` as the prod-review job writes it (review.json), its plan in PLANS_DIR."""
    monkeypatch.setattr(driver_module, "PLANS_DIR", tmp_path / "plans")
    stack = ROOT / "terraform" / "stacks" / "store2018"
    saved_plan(tmp_path / "plans", "prod", stack, planned, commit)
    reviewed = report.review(plans.SavedPlan("prod", tmp_path / "plans"), SERVICES, costs.load_prices(),
                             stack_dir=stack)  # fmt: skip
    _, written = report.write_reports(tmp_path / "reports", "review", "", report.as_json([reviewed], None))
    return written


def test_an_apply_refuses_a_plan_that_is_not_the_one_reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planned = [task_change(f"repo@{DIGEST_B}", "delete", "create"),
               change("aws_ecs_service.service_account_service_1", "update")]  # fmt: skip
    review_json = reviewed_file(tmp_path, monkeypatch, planned)
    driver_module.check_reviewed("prod", review_json)  # the same changes: allowed
    reviewed = json.loads(review_json.read_text())
    reviewed["workspaces"]["prod"]["changes"].pop()
    review_json.write_text(json.dumps(reviewed))
    with pytest.raises(plans.DriverError, match=r"not reviewed: aws_ecs_service\.service_account_service_1 change"):
        driver_module.check_reviewed("prod", review_json)
    with pytest.raises(plans.DriverError, match="reviews no plan of staging"):
        driver_module.check_reviewed("staging", review_json)


def test_a_look_alike_change_or_another_commit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Promoting an older image after a newer one: the same address and action, other planned values."""
    review_json = reviewed_file(tmp_path, monkeypatch, [task_change(f"repo@{DIGEST_B}", "delete", "create")])
    saved_plan(tmp_path / "plans", "prod", ROOT / "terraform" / "stacks" / "store2018",
               [task_change(f"repo@{DIGEST_A}", "delete", "create")], "c0ffee")  # fmt: skip
    with pytest.raises(plans.DriverError, match=r"not reviewed: aws_ecs_task_definition\.service_account_task_1 "
                       r"replace \(other planned values\)"):  # fmt: skip
        driver_module.check_reviewed("prod", review_json)
    saved_plan(tmp_path / "plans", "prod", ROOT / "terraform" / "stacks" / "store2018",
               [task_change(f"repo@{DIGEST_B}", "delete", "create")], "0ld")  # fmt: skip
    with pytest.raises(plans.DriverError, match="made from commit 0ld, the review from c0ffee"):
        driver_module.check_reviewed("prod", review_json)


def test_a_digest_leaves_out_unknown_and_sensitive_values_and_the_review_shows_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = b"lineage-key"
    one, other = (
        task_change("repo@" + DIGEST_A, "update")["change"],
        task_change("repo@" + DIGEST_A, "update")["change"],
    )
    other["after"] = {**other["after"], "tags": {"Owner": "someone else"}, "arn": "arn:known-later"}
    assert report.change_digest(one, key) == report.change_digest(other, key)  # sensitive and unknown: not hashed
    other["after"]["family"] = "prod-store2018-account2"
    assert report.change_digest(one, key) != report.change_digest(other, key)
    assert report.change_digest(one, key) != report.change_digest(one, b"another state's lineage")
    review_json = reviewed_file(tmp_path, monkeypatch, [task_change("repo@" + DIGEST_A, "update")])
    written = json.loads(review_json.read_text())
    assert written["workspaces"]["prod"]["changes"][0]["digest"] == report.change_digest(
        one, report.review_key(plans.PlanRecord("prod", "s", "L", 3, 0.0, None)))  # fmt: skip
    text = json.dumps(written["workspaces"]["prod"]["changes"])
    assert DIGEST_A not in text and "prod-store2018-account" not in text and "shop" not in text


def git(folder: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost", "HOME": str(folder), "PATH": os.environ["PATH"]}  # fmt: skip
    return subprocess.run(["git", *args], cwd=folder, env=env, capture_output=True, text=True, check=True).stdout


def test_a_deploy_of_a_commit_that_is_no_longer_mains_head_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A re-run of an old deploy run checks out its old commit: against a local bare remote, as on GitHub."""
    remote, merged, old_run = tmp_path / "remote.git", tmp_path / "merged", tmp_path / "old-run"
    git(tmp_path, "init", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", str(remote), str(merged))
    git(merged, "commit", "--allow-empty", "-m", "first merge")
    git(merged, "push", "origin", "main")
    git(tmp_path, "clone", str(remote), str(old_run))  # the run of the first merge checks it out
    assert driver_module.head_check(root=old_run) == 0
    git(merged, "commit", "--allow-empty", "-m", "second merge")
    git(merged, "push", "origin", "main")
    first, second = git(old_run, "rev-parse", "HEAD").strip(), git(merged, "rev-parse", "HEAD").strip()
    with pytest.raises(plans.DriverError, match=f"this checkout is {first}, but origin's main is now {second}"):
        driver_module.head_check(root=old_run)  # the old run, re-run after the second merge
    assert driver_module.head_check(root=merged) == 0
    assert f"{second} is the head of origin's main" in capsys.readouterr().out
