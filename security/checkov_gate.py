#!/usr/bin/env python
"""The security-scan gate: checkov over the synthesised stack and over each workspace's plan.

    make scan        (or, from the project's root: python -m security.checkov_gate)

Scans, with the pinned checkov in its own virtual environment (.checkov/), offline (`--skip-download`):
  1. the committed synthesis, every `terraform/stacks/*/cdk.tf.json`, with `--framework terraform_json`.
     A copy without `terraform.required_version` is scanned: with that key checkov 3.3.x reports
     a parsing error and runs no check at all (bridgecrewio/checkov#7454).
  2. the plan of every workspace of the environments table (as the synthesis carries it, so a new
     environment is scanned with no other edit), made by the real Terraform and provider against
     the moto emulator (local/emulated.py), with `--framework terraform_plan`. The plan shows each
     workspace's resolved values, container definitions decoded. (`terraform_json` scans a plan
     file without error and runs 0 checks, so it cannot be the framework here.)

A skip may be limited to some scans (`scans = ["synthesis"]` or `["plan"]`) and, for plans, to the
workspaces whose settings say so (`when = { alb_deletion_protection = false }`: keys and values of
the workspace's entry in the synthesised environments table), so that it follows the setting it is
about, not a workspace's name. A skip with `when` covers the synthesis only when its `scans` names
it: the synthesis holds every workspace, and the plans then decide per workspace.

Every plan is also checked by the project's own IAM rule (security/iam_gate.py: whom roles trust, which
boundary they carry, and that no policy reaches another workspace's resources), reported in the same scan
line; its refusals have no skips.

Fails when a check fails that `security/checkov-skips.toml` does not list for that resource, when a
resource pattern of a skip matches no failed check (stale: e.g. a service turned a setting on), when
checkov reports a parsing error or logs an error, or when
fewer checks ran than the floor below. Prints passed, failed and skipped counts per scan.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.emulated import (
    ROOT,
    SYNTH_STACK_DIR,
    MotoServer,
    TerraformWorkdir,
    missing_tools,
    read_synthesis,
    seal_this_process,
)
from security import iam_gate

CHECKOV = ROOT / ".checkov" / "bin" / "checkov"
SKIPS_FILE = ROOT / "security" / "checkov-skips.toml"
# Fewer checks than this means checkov did not really read the input (see #7454 above).
MIN_CHECKS = {"synthesis": 230, "plan": 180, "update": 180}
MAX_SKIPS = 22
# checkov logs failures to run a check or to build its graph at ERROR/WARNING level, and goes on.
CHECKOV_PROBLEM = re.compile(r"\[(ERROR|CRITI)|Failed to (run check|add block|parse)")


@dataclass(frozen=True)
class Scan:
    """One checkov run: the synthesis, or one workspace's plan with that workspace's values."""

    name: str  # "synthesis", "plan <workspace>" or "update <workspace>" (a plan over an existing state)
    values: dict[str, Any] | None = None  # the workspace's entry in the environments table (plans)

    @property
    def kind(self) -> str:
        return self.name.split()[0]


@dataclass(frozen=True)
class Skip:
    check: str
    resources: tuple[str, ...]
    reason: str
    scans: tuple[str, ...] = ()  # kinds ("synthesis", "plan" (updates too), "update"); empty: every scan
    when: tuple[tuple[str, Any], ...] = ()  # a workspace's values that must all match (plans only)

    def covers(self, scan: Scan, check: str, resource: str) -> str | None:
        """The resource pattern of this skip that covers a failed check, or None. A skip with `when` covers
        the plans of the workspaces whose values match, and the synthesis only if it names that scan
        (the synthesis holds every workspace: the plans decide)."""
        if scan.values is None:  # the synthesis
            in_scope = "synthesis" in self.scans if self.when else (not self.scans or "synthesis" in self.scans)
        else:
            kinds = set(self.scans) | ({"update"} if "plan" in self.scans else set())  # "plan": every plan
            in_scope = (not self.scans or scan.kind in kinds) and all(scan.values.get(k) == v for k, v in self.when)
        if check == self.check and in_scope:
            return next((p for p in self.resources if fnmatch.fnmatchcase(resource, p)), None)
        return None


@dataclass
class ScanResult:
    name: str
    passed: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def environments(stack_dir: Path = SYNTH_STACK_DIR) -> dict[str, dict[str, Any]]:
    """The environments table, as the synthesis carries it: every workspace and its values."""
    table: dict[str, dict[str, Any]] = read_synthesis(stack_dir)["locals"]["environments"]
    return table


def load_skips(path: Path = SKIPS_FILE, table: dict[str, dict[str, Any]] | None = None) -> list[Skip]:
    entries = tomllib.loads(path.read_text()).get("skip", [])
    skips = [
        Skip(e["check"], tuple(e["resources"]), e["reason"].strip(), tuple(e.get("scans", ())),
             tuple(sorted(e.get("when", {}).items())))
        for e in entries
    ]  # fmt: skip
    known = {key for values in (table or environments()).values() for key in values}
    for skip in skips:
        if not skip.reason or not skip.resources:
            raise SystemExit(f"{path}: the skip of {skip.check} needs resources and a reason")
        if set(skip.scans) - set(MIN_CHECKS):
            raise SystemExit(f"{path}: the skip of {skip.check} names scans {list(skip.scans)}; use {list(MIN_CHECKS)}")
        unknown = sorted({k for k, _ in skip.when} - known)
        if unknown:
            raise SystemExit(
                f"{path}: the skip of {skip.check} has `when` keys {unknown} that no environment has; "
                f"use keys of the synthesised environments table: {sorted(known)}"
            )
    if len(skips) > MAX_SKIPS:
        raise SystemExit(f"{path}: {len(skips)} skips, more than the cap of {MAX_SKIPS}; fix findings instead")
    return skips


def construct_id(resource: str) -> str:
    """`resource.network_alb_ingress_80_6B9ED1FD` or `aws_eip.network_nat_eip_333844B5[0]` -> the
    construct id (`network_alb_ingress_80`, `network_nat_eip`), which is the same in both scans."""
    name = resource.rsplit(".", 1)[-1]
    name = re.sub(r"\[[^\]]*\]$", "", name)
    return re.sub(r"_[0-9A-F]{8}$", "", name)


Used = set[tuple[Skip, str]]  # (skip, resource pattern) pairs that covered a failed check


def run_checkov(scan: Scan, target: Path, framework: str, floor: int, skips: list[Skip], used: Used) -> ScanResult:
    option = "--file" if target.is_file() else "--directory"
    done = subprocess.run(
        [str(CHECKOV), option, str(target), "--framework", framework, "--skip-download", "--quiet",
         "--compact", "--output", "json"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
    )  # fmt: skip
    result = ScanResult(scan.name)
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        result.problems.append(f"checkov exited {done.returncode} without a JSON report: {done.stderr[-2000:]}")
        return result
    summary = report["summary"]
    result.passed = summary["passed"]
    if summary["parsing_errors"]:
        result.problems.append(f"{summary['parsing_errors']} parsing error(s): {report['results']['parsing_errors']}")
    for line in done.stderr.splitlines():
        if CHECKOV_PROBLEM.search(line):
            result.problems.append(f"checkov logged: {line[:300]}")
    for failed in report["results"]["failed_checks"]:
        label = f"{failed['check_id']} {failed['resource']}: {failed['check_name']}"
        resource = construct_id(failed["resource"])
        covering = next(((s, p) for s in skips if (p := s.covers(scan, failed["check_id"], resource))), None)
        if covering is None:
            result.failed.append(label)
        else:
            used.add(covering)
            result.skipped.append(label)
    ran = result.passed + len(result.failed) + len(result.skipped)
    if ran < floor:
        result.problems.append(f"only {ran} checks ran, below the floor of {floor}: checkov did not read the input")
    return result


def stale_patterns(skips: list[Skip], used: Used, kinds: set[str] | None = None) -> dict[Skip, list[str]]:
    """Each skip's resource patterns that covered no failed check in any scan. A skip only for plans over
    an existing state (`scans = ["update"]`) is judged only when such a plan was scanned."""
    judged = [s for s in skips if kinds is None or not s.scans or set(s.scans) & kinds or "plan" in s.scans]
    stale = {skip: [p for p in skip.resources if (skip, p) not in used] for skip in judged}
    return {skip: patterns for skip, patterns in stale.items() if patterns}


def project_name(stack_dir: Path = SYNTH_STACK_DIR) -> str:
    """The project's name, as the synthesis tags every resource with it."""
    name: str = read_synthesis(stack_dir)["provider"]["aws"][0]["default_tags"][0]["tags"]["Project"]
    return name


def iam_rule(result: ScanResult, plan_file: Path, workspace: str, table: dict[str, dict[str, Any]]) -> ScanResult:
    """The project's IAM rule over one workspace's plan, in that plan's scan result."""
    checked, refused = iam_gate.plan_refusals(json.loads(plan_file.read_text()),
                                              iam_gate.Target(workspace, project_name(), table))  # fmt: skip
    result.passed += checked - len(refused)
    result.failed += [f"{iam_gate.RULE} {reason}" for reason in refused]
    return result


def synthesis_copy(folder: Path) -> Path:
    """Every committed stack without `terraform.required_version` (checkov#7454), nothing else changed."""
    target = folder / "synthesis"
    for stack in sorted(SYNTH_STACK_DIR.parent.iterdir()):
        document = read_synthesis(stack)
        document.get("terraform", {}).pop("required_version", None)
        (target / stack.name).mkdir(parents=True)
        (target / stack.name / "cdk.tf.json").write_text(json.dumps(document, indent=2))
    return target


def workspace_plans(folder: Path, workspaces: list[str]) -> dict[str, Path]:
    """Each workspace's plan as JSON, from the real Terraform and provider against the emulator."""
    moto = MotoServer(folder / "moto.log")
    try:
        with TerraformWorkdir(SYNTH_STACK_DIR, folder / "stack", moto) as workdir:
            plans = {}
            for workspace in workspaces:
                plans[workspace] = folder / f"plan-{workspace}" / "tfplan.json"
                plans[workspace].parent.mkdir()
                plans[workspace].write_text(json.dumps(workdir.plan_json(workspace)))
            return plans
    finally:
        moto.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m security.checkov_gate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--plan",
        action="append",
        default=[],
        metavar="WORKSPACE=FILE",
        help="scan this plan JSON (`terraform show -json`) instead of planning against the emulator",
    )
    parser.add_argument("--summary", type=Path, help="also write the counts per scan to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    given = dict(entry.split("=", 1) for entry in args.plan)
    if not CHECKOV.exists():
        print(f"{CHECKOV} is missing: run `make scan`, which installs it", file=sys.stderr)
        return 2
    seal_this_process()  # the plans' emulator, Terraform and boto3: none of the caller's AWS settings
    table = environments()
    skips = load_skips(table=table)
    used: Used = set()
    with tempfile.TemporaryDirectory(prefix="checkov-gate-") as tmp:
        folder = Path(tmp)
        print("checkov gate: scanning a copy of the synthesis without terraform.required_version (checkov#7454)")
        results = [run_checkov(Scan("synthesis"), synthesis_copy(folder), "terraform_json", MIN_CHECKS["synthesis"],
                               skips, used)]  # fmt: skip
        reason = None if given else missing_tools()
        if given:
            for workspace, plan_file in given.items():
                if workspace not in table:
                    print(
                        f"checkov gate: --plan {workspace}=...: not a workspace ({', '.join(table)})", file=sys.stderr
                    )
                    return 2
                # A plan over an existing state shows computed values a first plan does not (rules on a group).
                kind = "update" if json.loads(Path(plan_file).read_text()).get("prior_state") else "plan"
                scan = Scan(f"{kind} {workspace}", table[workspace])
                checked = run_checkov(scan, Path(plan_file), "terraform_plan", MIN_CHECKS[kind], skips, used)
                results.append(iam_rule(checked, Path(plan_file), workspace, table))
        elif reason:
            if os.environ.get("CI") == "true":
                print(f"checkov gate: cannot plan under CI=true: {reason}", file=sys.stderr)
                return 1
            print(f"checkov gate: plans NOT scanned ({reason})")
        else:
            for workspace, plan in workspace_plans(folder, list(table)).items():
                scan = Scan(f"plan {workspace}", table[workspace])
                checked = run_checkov(scan, plan, "terraform_plan", MIN_CHECKS["plan"], skips, used)
                results.append(iam_rule(checked, plan, workspace, table))

    ok = True
    for r in results:
        print(f"checkov gate: {r.name}: passed {r.passed}, failed {len(r.failed)}, skipped {len(r.skipped)} (reviewed)")
        for line in r.failed:
            print(f"  FAILED  {line}")
        for line in r.problems:
            print(f"  PROBLEM {line}")
        ok = ok and not r.failed and not r.problems
    if len(results) == 1 + len(table):  # a skip can only be judged stale once every scan ran
        for skip, stale in stale_patterns(skips, used, {r.name.split()[0] for r in results}).items():
            print(f"  STALE   skip of {skip.check}: {stale} matched no failed check: remove them")
            ok = False
    print(f"checkov gate: {'passed' if ok else 'FAILED'} ({len(skips)} reviewed skips in {SKIPS_FILE.name})")
    if args.summary:
        scans = [{"name": r.name, "passed": r.passed, "failed": len(r.failed) + len(r.problems),
                  "skipped": len(r.skipped)} for r in results]  # fmt: skip
        args.summary.write_text(json.dumps({"ok": ok, "scans": scans}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
