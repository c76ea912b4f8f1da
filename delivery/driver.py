"""The pipeline's steps, one command each: what the GitHub workflows run, and what people run.

    python -m delivery fresh-check                   terraform/ is what the sources synthesise
    python -m delivery head-check                    this checkout is the head of the remote's main
    python -m delivery plan WORKSPACE                saved plan (+ refresh-only plan) in .delivery/plans/
    python -m delivery gate                          checkov over the synthesis and the saved plans
    python -m delivery review                        .delivery/reports/review.md and .json, every saved plan
    python -m delivery apply WORKSPACE               the saved plan, exactly; a stale one is refused
    python -m delivery drift WORKSPACE               .delivery/reports/drift-WORKSPACE.md; exit 2 on drift,
                                                     3 when an apply holds the lock (nothing compared)
    python -m delivery pin WORKSPACE SERVICE IMAGE   one service's digest (or tag) in releases/WORKSPACE.json
    python -m delivery promote FROM TO               FROM's digests into releases/TO.json
    python -m delivery rollback WORKSPACE            the images the last promote or pin replaced

`--target local` (the default: the emulator of `make local-up`) or `--target aws` (the credentials in
the environment) for the commands that run Terraform. The `make` targets of the same names call these.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from delivery import costs, plans, promotion, report
from delivery.plans import PLANS_DIR, REPORTS_DIR, DriverError, SavedPlan
from delivery.targets import TARGETS, workdir
from local.emulated import ROOT, SYNTH_STACK_DIR, TerraformFailed, read_synthesis


@functools.cache
def synthesis() -> dict[str, Any]:
    """The committed main stack, read once per command (about 1 MB of JSON)."""
    return read_synthesis(SYNTH_STACK_DIR)


def workspaces() -> list[str]:
    """The environments table's workspaces, in its order, as the synthesis carries them."""
    return list(synthesis()["locals"]["environments"])


def services() -> list[str]:
    return sorted(synthesis()["locals"]["environments"][workspaces()[0]]["services"])


def check_workspace(workspace: str) -> str:
    if workspace not in workspaces():
        raise DriverError(f"WORKSPACE={workspace!r} is not a workspace of the environments table "
                          f"({', '.join(workspaces())})")  # fmt: skip
    return workspace


def check_account(target: str, workspace: str) -> None:
    """Before anything reaches AWS: the environment names the account(s) it belongs to, so that Terraform
    refuses credentials of any other (a prod plan run with staging's role). The emulator has its own."""
    if target != "aws":
        return
    accounts = synthesis()["locals"]["environments"][workspace].get("allowed_account_ids") or []
    if not accounts:
        raise DriverError(
            f"TARGET=aws refused for {workspace}: EnvironmentSettings.allowed_account_ids is empty (allowed: one or "
            f"more 12-digit AWS account ids). Set it in {workspace!r}'s entry of constructs/store2018/environments.py "
            f'to the account {workspace} is deployed to, e.g. allowed_account_ids=("123456789012",), then run '
            "`make synth` and commit terraform/"
        )


def create_workspaces(target: str) -> int:
    """Every workspace of the environments table, created in the state backend if missing (the S3 backend
    writes each one's empty state): once, after the bootstrap, with credentials that may write the state.
    Plans and drift never create one (plans.select_existing_workspace)."""
    names = workspaces()
    for workspace in names:
        check_account(target, workspace)
    with workdir(target) as terraform:
        for workspace in names:
            terraform.select_workspace(workspace)
            print(f"workspace {workspace}: in the state backend")
    return 0


def fresh_check() -> int:
    """Synthesise into a temporary folder and compare with the committed terraform/, file by file."""
    with tempfile.TemporaryDirectory(prefix="fresh-check-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "STORE2018_"))}
        env["CDKTF_OUTDIR"] = str(Path(tmp) / "terraform")
        done = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=ROOT, env=env, capture_output=True,
                              text=True)  # fmt: skip
        if done.returncode != 0:
            raise DriverError(f"the synthesis failed:\n{done.stderr}")
        fresh = {str(p.relative_to(tmp)): p.read_bytes() for p in Path(tmp).rglob("*") if p.is_file()}
    listed = subprocess.run(["git", "ls-files", "-z", "--", "terraform"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    committed = {name: (ROOT / name).read_bytes() for name in listed.split("\0") if name}
    differ = sorted(name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name))
    if differ:
        print("terraform/ is stale: run `make synth` and commit the result. Differs:\n  " + "\n  ".join(differ))
        return 1
    print(f"terraform/ is fresh ({len(committed)} files match a new synthesis)")
    return 0


def head_check(remote: str = "origin", branch: str = "main", *, root: Path = ROOT) -> int:
    """Refuse a checkout that is not the remote branch's head: a re-run of an older deploy run checks out its
    old commit, and would apply it. The remote is asked now (`git ls-remote`), not the checkout's refs. In
    GitHub Actions, STORE2018_GIT_TOKEN (the job's token) authenticates that one call, through git's
    environment, never a command line or a file."""
    here = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if here.returncode != 0:
        raise DriverError(f"not a git checkout: {here.stderr.strip()}")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    token = os.environ.get("STORE2018_GIT_TOKEN")
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.https://github.com/.extraheader",
                   GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}")  # fmt: skip
    asked = subprocess.run(["git", "ls-remote", "--exit-code", remote, f"refs/heads/{branch}"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    if asked.returncode != 0:
        raise DriverError(f"could not read {branch} from {remote}: {asked.stderr.strip() or 'no such branch'}")
    head, commit = asked.stdout.split()[0], here.stdout.strip()
    if head != commit:
        raise DriverError(f"this checkout is {commit}, but {remote}'s {branch} is now {head}: an older commit is "
                          f"never deployed (a re-run of an old run, or a newer merge's run will deploy)")  # fmt: skip
    print(f"{commit} is the head of {remote}'s {branch}")
    return 0


def gate() -> int:
    """The security gate over the synthesis and the saved plans (their JSON), with its summary for the review."""
    saved = [SavedPlan(ws, PLANS_DIR) for ws in workspaces() if SavedPlan(ws, PLANS_DIR).plan_json.exists()]
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    args = [f"--plan={s.workspace}={s.plan_json}" for s in saved]
    command = [sys.executable, "-m", "security.checkov_gate", *args, f"--summary={REPORTS_DIR / 'gate.json'}"]
    return subprocess.run(command, cwd=ROOT).returncode


def review() -> int:
    saved = [SavedPlan(ws, PLANS_DIR) for ws in workspaces()]
    saved = [s for s in saved if s.record_file.exists()]
    if not saved:
        raise DriverError("no saved plan to review: run `make plan WORKSPACE=<workspace>` first")
    gate_file = REPORTS_DIR / "gate.json"
    gate_summary = json.loads(gate_file.read_text()) if gate_file.exists() else None
    ignored = plans.ignored_changes(synthesis())
    reviews = [report.review(s, services(), costs.load_prices(), stack_dir=SYNTH_STACK_DIR, ignored=ignored)
               for s in saved]  # fmt: skip
    md, js = report.write_reports(REPORTS_DIR, "review", report.markdown(reviews, gate_summary),
                                  report.as_json(reviews, gate_summary))  # fmt: skip
    print(md.read_text())
    print(f"written: {md}, {js}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")  # in GitHub Actions: the run's summary page
    if summary:
        with open(summary, "a") as out:
            out.write(md.read_text())
    return 0


def check_reviewed(workspace: str, reviewed_file: Path) -> None:
    """Refuse to apply a saved plan that is not the one reviewed, e.g. in an earlier job of the same run (a
    plan in between could differ: someone applied, AWS changed, an older commit's run was re-run)."""
    compare_with_review(SavedPlan(workspace, PLANS_DIR), reviewed_file, services())


def compare_with_review(saved: SavedPlan, reviewed_file: Path, services: list[str]) -> None:
    """The same commit, and the same changes by address, action and digest of the planned values
    (report.change_digest), so that a change that looks routine (an older image after a newer one: the same
    addresses and actions) is not taken for the reviewed one."""
    workspace = saved.workspace
    reviewed = json.loads(reviewed_file.read_text())["workspaces"].get(workspace)
    if reviewed is None:
        raise DriverError(f"{reviewed_file} reviews no plan of {workspace}")
    record = saved.record()
    if reviewed.get("commit") != record.commit:
        raise DriverError(f"the plan of {workspace} was made from commit {record.commit}, the review from "
                          f"{reviewed.get('commit')}: plan, review and approve again")  # fmt: skip
    found = report.changes_of(saved.plan(), services, report.review_key(record))
    planned = {(c.address, c.kind, c.digest) for c in found}
    expected = {(c["address"], c["action"], c.get("digest")) for c in reviewed["changes"]}
    if planned != expected:
        same_kind = {e[:2] for e in expected} & {p[:2] for p in planned}
        differ = [f"not reviewed: {a} {k}" + (" (other planned values)" if (a, k) in same_kind else "")
                  for a, k, _ in sorted(planned - expected)]  # fmt: skip
        differ += [f"reviewed, not planned now: {a} {k}" for a, k, _ in sorted(expected - planned)
                   if (a, k) not in same_kind]  # fmt: skip
        raise DriverError(f"the plan of {workspace} is not the one reviewed in {reviewed_file}; plan, review and "
                          "approve again:\n  " + "\n  ".join(differ))  # fmt: skip


def drift(target: str, workspace: str) -> int:
    """Exit 0: no drift; 2: drift (the report says what); 3: an apply holds the lock, nothing was compared
    (`drift-<ws>.busy` says who holds it: the drift workflow leaves the workspace's issue alone)."""
    busy = REPORTS_DIR / f"drift-{workspace}.busy"
    busy.unlink(missing_ok=True)
    try:
        with workdir(target) as terraform:
            found = plans.drift(terraform, workspace)
    except plans.ApplyInProgress as held:
        REPORTS_DIR.mkdir(parents=True, exist_ok=True)
        busy.write_text(f"{held}\n")
        print(f"drift not checked: {held}", file=sys.stderr)
        return 3
    document = {"workspace": workspace, "drift": [d.__dict__ for d in found]}
    md, _ = report.write_reports(REPORTS_DIR, f"drift-{workspace}", report.drift_markdown(workspace, found), document)
    print(md.read_text())
    return 2 if found else 0


def show(changed: promotion.Changed) -> int:
    for service, (before, after) in changed.images.items():
        print(f"{changed.workspace}: {service}: {before} -> {after}")
    for service, why in changed.skipped.items():
        print(f"{changed.workspace}: {service} not changed: {why}")
    if not changed.images:
        print(f"{changed.workspace}: nothing changed")
    else:
        print("releases/ and terraform/ rewritten: review and commit them (a pull request), then plan and apply")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery", description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=TARGETS, default=os.environ.get("STORE2018_TARGET", "local"))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fresh-check")
    sub.add_parser("head-check")
    sub.add_parser("gate")
    sub.add_parser("review")
    sub.add_parser("workspaces")
    for name in ("plan", "drift", "rollback"):
        sub.add_parser(name).add_argument("workspace")
    applied = sub.add_parser("apply")
    applied.add_argument("workspace")
    applied.add_argument("--reviewed", type=Path, help="a review.json: refuse a plan whose changes differ")
    pinned = sub.add_parser("pin")
    for arg in ("workspace", "service", "image"):
        pinned.add_argument(arg)
    promoted = sub.add_parser("promote")
    promoted.add_argument("source")
    promoted.add_argument("target_workspace")
    args = parser.parse_args(argv)
    try:
        command = args.command
        if command == "fresh-check":
            return fresh_check()
        if command == "head-check":
            return head_check()
        if command == "gate":
            return gate()
        if command == "review":
            return review()
        if command == "workspaces":
            return create_workspaces(args.target)
        if command in ("plan", "apply", "drift"):
            check_account(args.target, check_workspace(args.workspace))  # before anything starts
        if command == "plan":
            workspace = check_workspace(args.workspace)
            with workdir(args.target) as terraform:
                saved = plans.plan(terraform, workspace)
            print(f"saved plan: {saved.plan_file.relative_to(ROOT)} (mode 0600; review it with `make review`)")
            return 0
        if command == "apply":
            workspace = check_workspace(args.workspace)
            if args.reviewed:
                check_reviewed(workspace, args.reviewed)
            with workdir(args.target) as terraform:
                plans.apply(terraform, workspace, echo=print)
            return 0
        if command == "drift":
            return drift(args.target, check_workspace(args.workspace))
        if command == "pin":
            return show(promotion.pin(check_workspace(args.workspace), args.service, args.image))
        if command == "promote":
            source, target = check_workspace(args.source), check_workspace(args.target_workspace)
            return show(promotion.promote(source, target))
        return show(promotion.rollback(check_workspace(args.workspace)))
    except (DriverError, TerraformFailed) as error:
        print(f"{args.command} refused: {error}", file=sys.stderr)
        return 1
