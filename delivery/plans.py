"""Saved plans: plan a workspace into a file, apply exactly that file or refuse, and find drift.

A plan is saved with what it was made from (`<workspace>.meta.json`): the synthesis' hash and the
workspace state's lineage and serial. `apply` refuses the plan when either moved since (terraform/
changed, or someone applied): Terraform refuses a plan of an older state serial too, but only after
locking, and it cannot know the synthesis moved. A plan is applied once; its files are then deleted.

Plan files and their JSON hold the values of sensitive attributes in clear text (a plan is not
encrypted), so they are written to a folder of mode 0700, each file 0600, and never leave the
machine or runner that made them: the review report, which names addresses, actions, counts and
costs and no attribute value, is what leaves.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from local.emulated import INTERRUPT_GRACE_SECONDS, ROOT, SYNTH_STACK_DIR, TerraformResult, write_private

# STORE2018_DELIVERY_DIR: another folder (the tests' runs keep out of the project's).
DELIVERY_DIR = Path(os.environ.get("STORE2018_DELIVERY_DIR") or ROOT / ".delivery")
PLANS_DIR = DELIVERY_DIR / "plans"
REPORTS_DIR = DELIVERY_DIR / "reports"


class DriverError(Exception):
    """A step refused or failed; the message says why and what to do."""


class StalePlan(DriverError):
    """The saved plan no longer matches what it would be applied to."""


class ApplyInProgress(DriverError):
    """The workspace's state lock is held: an apply is running, so what a refresh sees is half-way."""


# Each Terraform command's time, after which it gets one SIGINT and INTERRUPT_GRACE_SECONDS to stop
# (local.emulated.run_interruptible). A driver command stops at its first failure, so its longest run is
# the sum of its Terraform commands' times plus one grace: COMMAND_SECONDS, from which the workflows' step
# timeouts are budgeted (tests/test_workflows.py checks the arithmetic).
INIT_SECONDS = 300  # terraform init of the working copy: the provider's download
PLAN_SECONDS = 600
APPLY_SECONDS = 2700  # the services' steady-state waits (the provider's 20 minutes each) run side by side
SMALL_SECONDS = 120  # workspace select, state pull, show


def budget(*timeouts: int) -> int:
    return sum(timeouts) + INTERRUPT_GRACE_SECONDS


COMMAND_SECONDS = {
    # init, select, state pull, plan, show, refresh-only plan, show
    "plan": budget(INIT_SECONDS, *[SMALL_SECONDS] * 2, PLAN_SECONDS, SMALL_SECONDS, PLAN_SECONDS, SMALL_SECONDS),
    # init, select, state pull, refresh-only plan, show, state pull (did an apply come and go meanwhile?)
    "drift": budget(INIT_SECONDS, *[SMALL_SECONDS] * 2, PLAN_SECONDS, *[SMALL_SECONDS] * 2),
    # init, state pull, apply
    "apply": budget(INIT_SECONDS, SMALL_SECONDS, APPLY_SECONDS),
}


class Workdir(Protocol):
    """A Terraform working copy of the main stack: the emulator's (local.emulated.TerraformWorkdir) or AWS's."""

    path: Path

    def run(
        self,
        *args: str,
        check: bool = True,
        echo: Callable[[str], None] | None = None,
        timeout: float = 600,
        workspace: str | None = None,
    ) -> TerraformResult: ...

    def select_workspace(self, workspace: str) -> None: ...

    def s3_client(self) -> Any: ...


@dataclass(frozen=True)
class PlanRecord:
    """What a saved plan was made from, checked again before it is applied."""

    workspace: str
    synthesis_sha256: str
    state_lineage: str | None  # None: the workspace had no state yet (a first deploy)
    state_serial: int | None
    planned_at: float
    commit: str | None


def private_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def synthesis_hash(stack_dir: Path = SYNTH_STACK_DIR) -> str:
    return hashlib.sha256((stack_dir / "cdk.tf.json").read_bytes()).hexdigest()


def current_commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def json_in(output: str) -> dict[str, Any] | None:
    """The JSON document in a Terraform command's output (the working copies merge standard error into it,
    so a warning may come before or after the document), or None if there is none."""
    start = output.find("{")
    if start < 0:
        return None
    document, _ = json.JSONDecoder().raw_decode(output[start:])
    return dict(document)


class NoWorkspace(DriverError):
    """The workspace has no state in the backend yet, and a plan does not create one."""


def select_existing_workspace(workdir: Workdir, workspace: str) -> None:
    """Plans and drift select a workspace and never create it: the S3 backend creates one by locking and
    writing its state, which the plan roles may not do (they read the state only)."""
    selected = workdir.run("workspace", "select", workspace, check=False, timeout=SMALL_SECONDS)
    if selected.returncode == 0:
        return
    if f'Workspace "{workspace}" doesn\'t exist' in selected.output:
        raise NoWorkspace(
            f"the workspace {workspace} has no state in the backend yet, and a plan does not create one (that "
            f"writes its state, which the plan roles may not). Create the workspaces once, with credentials that "
            f"may write the state: `make workspaces TARGET=aws` as an administrator, after the bootstrap (README, "
            f"One-time set-up in GitHub); locally `make local-up` creates them"
        )
    raise DriverError(f"terraform workspace select {workspace} failed:\n{selected.output}")


def state_version(workdir: Workdir, workspace: str) -> tuple[str | None, int | None]:
    """The workspace state's lineage and serial (None, None when it has no state yet)."""
    state = json_in(workdir.run("state", "pull", workspace=workspace, timeout=SMALL_SECONDS).output)
    return (None, None) if state is None else (state["lineage"], int(state["serial"]))


def shown_json(workdir: Workdir, plan_file: Path, workspace: str) -> dict[str, Any]:
    document = json_in(workdir.run("show", "-json", str(plan_file), workspace=workspace, timeout=SMALL_SECONDS).output)
    if document is None:
        raise DriverError(f"terraform show -json {plan_file.name} printed no JSON")
    return document


@dataclass(frozen=True)
class SavedPlan:
    workspace: str
    folder: Path

    @property
    def plan_file(self) -> Path:
        return self.folder / f"{self.workspace}.tfplan"

    @property
    def plan_json(self) -> Path:
        return self.folder / f"{self.workspace}.plan.json"

    @property
    def drift_json(self) -> Path:
        return self.folder / f"{self.workspace}.drift.json"

    @property
    def record_file(self) -> Path:
        return self.folder / f"{self.workspace}.meta.json"

    def record(self) -> PlanRecord:
        if not self.record_file.exists() or not self.plan_file.exists():
            raise DriverError(f"no saved plan of {self.workspace} in {self.folder}: run `make plan "
                              f"WORKSPACE={self.workspace}` first")  # fmt: skip
        return PlanRecord(**json.loads(self.record_file.read_text()))

    def plan(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.plan_json.read_text())
        return loaded

    def drift(self) -> dict[str, Any] | None:
        if not self.drift_json.exists():
            return None
        loaded: dict[str, Any] = json.loads(self.drift_json.read_text())
        return loaded

    def remove(self) -> None:
        for path in (self.plan_file, self.plan_json, self.drift_json, self.record_file):
            path.unlink(missing_ok=True)


def plan(
    workdir: Workdir, workspace: str, folder: Path = PLANS_DIR, *, stack_dir: Path = SYNTH_STACK_DIR,
    refresh_only: bool = True,
) -> SavedPlan:  # fmt: skip
    """Plan `workspace` into a saved plan (and, beside it, a refresh-only plan: the drift the review shows)."""
    saved = SavedPlan(workspace, private_folder(folder))
    saved.remove()
    select_existing_workspace(workdir, workspace)
    lineage, serial = state_version(workdir, workspace)
    # Without the lock: a plan never waits for, nor blocks, an apply; the apply checks the state serial.
    planned = workdir.run("plan", "-input=false", "-lock=false", f"-out={saved.plan_file}", check=False,
                          workspace=workspace, timeout=PLAN_SECONDS)  # fmt: skip
    if planned.returncode != 0:
        raise DriverError(f"terraform plan of {workspace} failed:\n{planned.output}")
    write_private(saved.plan_json, shown_json(workdir, saved.plan_file, workspace))
    os.chmod(saved.plan_file, 0o600)
    if refresh_only and lineage is not None:
        write_private(saved.drift_json, refresh_only_plan(workdir, workspace, folder))
    record = PlanRecord(workspace, synthesis_hash(stack_dir), lineage, serial, time.time(), current_commit())
    write_private(saved.record_file, asdict(record))
    return saved


def refresh_only_plan(workdir: Workdir, workspace: str, folder: Path) -> dict[str, Any]:
    """What a refresh would record: the differences between the state and the real infrastructure."""
    out = folder / f"{workspace}.refresh.tfplan"
    try:
        done = workdir.run("plan", "-refresh-only", "-input=false", "-lock=false", f"-out={out}", check=False,
                           workspace=workspace, timeout=PLAN_SECONDS)  # fmt: skip
        if done.returncode != 0:
            raise DriverError(f"the refresh-only plan of {workspace} failed:\n{done.output}")
        return shown_json(workdir, out, workspace)
    finally:
        out.unlink(missing_ok=True)


def check_fresh(saved: SavedPlan, workdir: Workdir, *, stack_dir: Path = SYNTH_STACK_DIR) -> PlanRecord:
    """Refuse a plan made from another synthesis, or of a state that changed since (StalePlan)."""
    record = saved.record()
    if record.workspace != saved.workspace:
        raise StalePlan(f"{saved.record_file} is a plan of {record.workspace}, not {saved.workspace}")
    if record.synthesis_sha256 != synthesis_hash(stack_dir):
        raise StalePlan(f"the saved plan of {saved.workspace} was made from another synthesis: terraform/ changed "
                        f"since. Plan again: make plan WORKSPACE={saved.workspace}")  # fmt: skip
    now = state_version(workdir, saved.workspace)
    if now != (record.state_lineage, record.state_serial):
        raise StalePlan(f"the state of {saved.workspace} changed since the plan (lineage/serial "
                        f"{record.state_lineage}/{record.state_serial} -> {now[0]}/{now[1]}): something was applied "
                        f"meanwhile. Plan again and review: make plan WORKSPACE={saved.workspace}")  # fmt: skip
    return record


def apply(
    workdir: Workdir, workspace: str, folder: Path = PLANS_DIR, *, stack_dir: Path = SYNTH_STACK_DIR,
    echo: Callable[[str], None] | None = None,
) -> TerraformResult:  # fmt: skip
    """Apply the saved plan of `workspace` exactly as planned, once; refuse a stale one."""
    saved = SavedPlan(workspace, folder)
    check_fresh(saved, workdir, stack_dir=stack_dir)
    # Plans take no lock and applies are serialised per workspace (the workflows' concurrency groups): a
    # held lock is a person's run, or one left behind: fail at once and say so rather than wait.
    done = workdir.run("apply", "-input=false", str(saved.plan_file), check=False, workspace=workspace, echo=echo,
                       timeout=APPLY_SECONDS)  # fmt: skip
    if done.returncode != 0:
        raise DriverError(f"terraform apply of {workspace} failed:\n{done.output}")
    saved.remove()  # applied: the same plan can never be applied twice
    return done


@dataclass(frozen=True)
class Drift:
    address: str
    type: str
    actions: tuple[str, ...]  # ("update",): changed outside Terraform; ("delete",): gone
    attributes: tuple[str, ...]  # the top-level attributes that differ (their values are not shown)


def _same(before: object, after: object) -> bool:
    """Equal, with null and empty taken as one (a refresh turns an unset `tags` into `{}`)."""
    empty: tuple[object, ...] = (None, {}, [], "")
    return before == after or (before in empty and after in empty)


def ignored_changes(synthesis: dict[str, Any]) -> dict[str, set[str]]:
    """Per resource address, the arguments its `lifecycle.ignore_changes` leaves to others (an ECS
    service's `desired_count`, moved by autoscaling). The plan JSON's configuration does not carry them."""
    resources = synthesis.get("resource", {})
    return {f"{kind}.{name}": set(body.get("lifecycle", {}).get("ignore_changes", []))
            for kind, named in resources.items() for name, body in named.items()}  # fmt: skip


def drift_of(refresh_plan: dict[str, Any], ignored: dict[str, set[str]] | None = None) -> list[Drift]:
    """The refresh-only plan's `resource_drift`, each resource changed or deleted behind Terraform's back,
    on the arguments the configuration sets (and `tags_all`) and does not leave to others (`ignored`,
    from `ignore_changes`). Terraform also lists what only other resources manage (a route table's
    `route` set, filled by `aws_route`; a security group's inline rules, filled by its rule resources)
    and null read back as empty: that is not drift, and is left out."""
    module = refresh_plan.get("configuration", {}).get("root_module", {})
    configured = {r["address"]: set(r.get("expressions", {})) - (ignored or {}).get(r["address"], set())
                  for r in module.get("resources", [])}  # fmt: skip
    found = []
    for entry in refresh_plan.get("resource_drift", []):
        change, actions = entry["change"], tuple(entry["change"]["actions"])
        before, after = change.get("before") or {}, change.get("after") or {}
        watched = configured.get(re.sub(r"\[[^\]]*\]$", "", entry["address"]), set()) | {"tags_all"}
        changed = tuple(sorted(k for k in watched if not _same(before.get(k), after.get(k))))
        if actions == ("delete",) or changed:
            found.append(Drift(entry["address"], entry["type"], actions, changed))
    return found


def backend_of(synthesis_file: Path) -> dict[str, Any]:
    """The synthesis' S3 backend settings ({} for another backend)."""
    backends = json.loads(synthesis_file.read_text()).get("terraform", {}).get("backend", {})
    return dict(backends.get("s3", {}))


def state_lock(workdir: Workdir, workspace: str, stack_dir: Path = SYNTH_STACK_DIR) -> dict[str, Any] | None:
    """The lock an apply holds on the workspace's state (S3-native locking: `<state key>.tflock`, its
    holder, operation and time), or None. Read only: the plan roles may read the lock object, not write it."""
    backend = backend_of(stack_dir / "cdk.tf.json")
    if not backend:
        return None
    key = (
        backend["key"] if workspace == "default" else f"{backend['workspace_key_prefix']}/{workspace}/{backend['key']}"
    )
    try:
        body = workdir.s3_client().get_object(Bucket=backend["bucket"], Key=f"{key}.tflock")["Body"].read()
    except Exception as error:  # botocore's ClientError: NoSuchKey when no lock is held
        if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    held: dict[str, Any] = json.loads(body)
    return held


def lock_age_seconds(held: dict[str, Any]) -> float | None:
    """How long ago the lock was taken (its `Created`, RFC 3339 with nanoseconds), or None if unreadable."""
    created = re.sub(r"(\.\d{6})\d*", r"\1", str(held.get("Created", "")))
    try:
        taken = datetime.fromisoformat(created)
    except ValueError:
        return None
    if taken.tzinfo is None:
        return None
    return time.time() - taken.timestamp()


def drift(
    workdir: Workdir, workspace: str, folder: Path = PLANS_DIR, *, stack_dir: Path = SYNTH_STACK_DIR
) -> list[Drift]:
    """The refresh-only plan's drift, unless an apply holds the state lock before or after it (half-applied
    resources are not drift): then ApplyInProgress, naming the lock's holder."""
    select_existing_workspace(workdir, workspace)
    ignored = ignored_changes(json.loads((stack_dir / "cdk.tf.json").read_text()))
    busy = state_lock(workdir, workspace, stack_dir)
    refresh: dict[str, Any] = {}
    if busy is None:
        before = state_version(workdir, workspace)
        refresh = refresh_only_plan(workdir, workspace, private_folder(folder))
        busy = state_lock(workdir, workspace, stack_dir)
        if busy is None and state_version(workdir, workspace) != before:  # a short apply came and went meanwhile
            raise ApplyInProgress(f"the state of {workspace} changed during the check: an apply ran, so drift was "
                                  f"not checked. Run `make drift WORKSPACE={workspace}` again")  # fmt: skip
    if busy is not None:
        age = lock_age_seconds(busy)
        if age is not None and age > COMMAND_SECONDS["apply"]:
            raise DriverError(
                f"the state of {workspace} has been locked for {age / 60:.0f} min (lock ID {busy.get('ID')}, "
                f"{busy.get('Operation')} by {busy.get('Who')} since {busy.get('Created')}), longer than any apply "
                f"runs ({COMMAND_SECONDS['apply'] // 60} min): a killed run left it, and drift cannot be checked. "
                f"Make sure no apply runs, then `terraform force-unlock {busy.get('ID')}` in a working copy of the "
                f"workspace with the apply role's or an administrator's credentials"
            )
        raise ApplyInProgress(
            f"the state of {workspace} is locked (lock ID {busy.get('ID')}, {busy.get('Operation')} by "
            f"{busy.get('Who')} since {busy.get('Created')}): an apply is in progress, so drift was not checked. "
            f"Run `make drift WORKSPACE={workspace}` again once it is done"
        )
    return drift_of(refresh, ignored)


def copy_stack(stack_dir: Path, folder: Path) -> Path:
    """A working copy's synthesis: cdk.tf.json only (run folders, state and plans stay out of terraform/)."""
    private_folder(folder)
    shutil.copy2(stack_dir / "cdk.tf.json", folder / "cdk.tf.json")
    return folder
