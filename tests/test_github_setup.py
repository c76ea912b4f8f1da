"""The checks of the GitHub repository's set-up (delivery/github.py), against a stand-in `gh` that answers
as GitHub's API does: the OIDC subject read back, and the environments the deploy workflow checks first."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import settings_with

from delivery import github
from delivery.plans import DriverError
from store2018.settings import GitHubSubject

REPOSITORY = "octo-org/store2018"
SETTINGS = settings_with(github_repository=REPOSITORY)
PROTECTED_PROD = {
    "name": "prod",
    "can_admins_bypass": False,
    "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    "protection_rules": [
        {"type": "required_reviewers", "prevent_self_review": True, "reviewers": [{"type": "User"}]},
        {"type": "branch_policy"},
    ],
}
STAGING = {**PROTECTED_PROD, "name": "staging", "protection_rules": [{"type": "branch_policy"}]}
MAIN_ONLY = {"branch_policies": [{"name": "main", "type": "branch"}]}


@pytest.fixture
def answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """GitHub's answers by API path (absent: 404), served by a `gh` put first on PATH."""
    served: dict[str, Any] = {}
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir()
    fake.write_text(f"""#!{sys.executable}
import json, sys
served = json.load(open({str(tmp_path / "answers.json")!r}))
path = sys.argv[-1]
if path not in served:
    print("gh: Not Found (HTTP 404)", file=sys.stderr)
    sys.exit(1)
print(json.dumps(served[path]))
""")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    original = github.gh_api

    def serve(path: str) -> Any:
        (tmp_path / "answers.json").write_text(json.dumps(served))
        return original(path)

    monkeypatch.setattr(github, "gh_api", serve)
    return served


def set_up(answers: dict[str, Any], **prod: Any) -> None:
    base = f"repos/{REPOSITORY}/environments"
    answers.update({f"{base}/prod": {**PROTECTED_PROD, **prod}, f"{base}/staging": STAGING,
                    f"{base}/release": STAGING,
                    f"{base}/prod/deployment-branch-policies": MAIN_ONLY,
                    f"{base}/staging/deployment-branch-policies": MAIN_ONLY,
                    f"{base}/release/deployment-branch-policies": MAIN_ONLY})  # fmt: skip


def test_the_environments_set_up_as_the_readme_asks_pass(answers: dict[str, Any]) -> None:
    set_up(answers)
    assert github.environments(SETTINGS) == 0


@pytest.mark.parametrize(
    ("prod", "message"),
    [
        ({"protection_rules": [{"type": "branch_policy"}]}, "environment 'prod' has no required reviewers"),
        ({"protection_rules": [{"type": "required_reviewers", "prevent_self_review": False, "reviewers": [{}]}]},
         "tick 'Prevent self-review'"),
        ({"can_admins_bypass": True}, "lets administrators bypass its protection"),
        ({"deployment_branch_policy": None}, "must allow deployments from the branch `main` only"),
        ({"deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False}},
         "it allows any branch"),
    ],
)  # fmt: skip
def test_an_environment_without_its_protection_is_refused(answers: dict[str, Any], prod: Any, message: str) -> None:
    set_up(answers, **prod)
    with pytest.raises(DriverError, match="not set up as the README asks") as refused:
        github.environments(SETTINGS)
    assert message in str(refused.value)


def test_a_missing_environment_or_another_branch_is_refused(answers: dict[str, Any]) -> None:
    set_up(answers)
    del answers[f"repos/{REPOSITORY}/environments/staging"]
    answers[f"repos/{REPOSITORY}/environments/prod/deployment-branch-policies"] = {
        "branch_policies": [{"name": "main", "type": "branch"}, {"name": "release/*", "type": "branch"}]}  # fmt: skip
    with pytest.raises(DriverError) as refused:
        github.environments(SETTINGS)
    assert "environment 'staging' does not exist" in str(refused.value)
    assert "environment 'prod' must allow deployments from the branch `main` only" in str(refused.value)
    # The release environment holds the App's key: it exists and deploys from main only, like the others.
    from test_workflows import load

    assert load("release.yml")["jobs"]["pull-request"]["environment"] == github.RELEASE_ENVIRONMENT
    set_up(answers)
    del answers[f"repos/{REPOSITORY}/environments/release/deployment-branch-policies"]
    with pytest.raises(DriverError, match="environment 'release' must allow deployments from the branch `main` only"):
        github.environments(SETTINGS)
    del answers[f"repos/{REPOSITORY}/environments/release"]
    with pytest.raises(DriverError, match="environment 'release' does not exist"):
        github.environments(SETTINGS)


def test_the_oidc_subject_is_read_back(answers: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = f"repos/{REPOSITORY}/actions/oidc/customization/sub"
    customised = {"use_default": False, "include_claim_keys": ["repo", "context", "job_workflow_ref"]}
    both = replace(SETTINGS, project=replace(SETTINGS.project, github_oidc_subject=GitHubSubject.BOTH))
    old = replace(SETTINGS, project=replace(SETTINGS.project, github_oidc_subject=GitHubSubject.DEFAULT))
    answers[path] = {"use_default": True}
    with pytest.raises(DriverError, match=r"is WORKFLOW, so the pipeline roles refuse its tokens: run `make oidc-sub"):
        github.oidc_subject(SETTINGS, check=True)
    assert github.oidc_subject(old, check=True) == 0
    assert github.oidc_subject(both, check=True) == 0  # the switch's first step: either subject is accepted
    assert "next: `make oidc-subject` switches it" in capsys.readouterr().out
    answers[path] = customised
    assert github.oidc_subject(SETTINGS, check=True) == 0
    assert github.oidc_subject(both, check=True) == 0
    assert "next: set ProjectSettings.github_oidc_subject to GitHubSubject.WORKFLOW" in capsys.readouterr().out
    with pytest.raises(DriverError, match=r"is DEFAULT, so the pipeline roles refuse its tokens: set .*BOTH"):
        github.oidc_subject(old, check=True)
    answers[path] = {**customised, "include_claim_keys": ["repo", "context"]}  # customised otherwise: refused
    with pytest.raises(DriverError, match=r"not the pipeline's"):
        github.oidc_subject(SETTINGS, check=True)
    assert github.oidc_subject(SETTINGS, check=False) == 0
    printed = capsys.readouterr().out
    assert f"gh api --method PUT {path} --input -" in printed
    assert '{"use_default": false, "include_claim_keys": ["repo", "context", "job_workflow_ref"]}' in printed


def test_the_readme_states_the_subject_command_and_the_budgets_as_they_are(
    answers: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """README, "Pipeline trust": the command is the one printed, the figures are the code's and the workflow's."""
    from test_workflows import load, make_call, steps

    from delivery.plans import APPLY_SECONDS, COMMAND_SECONDS, INIT_SECONDS, PLAN_SECONDS, SMALL_SECONDS
    from local.emulated import ROOT

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Pipeline trust") : readme.index("## Local deploy")].replace("\n", " ")
    github.oidc_subject(SETTINGS, check=False)
    command = next(line.strip() for line in capsys.readouterr().out.splitlines() if "gh api" in line)
    assert f"`{command.replace(REPOSITORY, 'OWNER/NAME')}`" in section
    assert (f"init {INIT_SECONDS} s; select, state pull and show {SMALL_SECONDS} s; plan {PLAN_SECONDS} s; apply "
            f"{APPLY_SECONDS:,} s") in section  # fmt: skip
    step_minutes = {
        make_call(step["run"])[0]: step["timeout-minutes"]
        for workflow in ("deploy.yml", "drift.yml")
        for job in load(workflow)["jobs"].values()
        for step in steps(job)
        if "run" in step and make_call(step["run"])[0] in COMMAND_SECONDS
    }
    said = "plan {plan} min in a {plan_step}-minute step, apply {apply} in {apply_step}, drift {drift} in {drift_step}"
    assert said.format(**{k: v // 60 for k, v in COMMAND_SECONDS.items()},
                       **{f"{k}_step": v for k, v in step_minutes.items()}) in section  # fmt: skip
    # The settings' names, as GitHub shows them, in the README's set-up and in the check's refusal.
    self_review = {"type": "required_reviewers", "prevent_self_review": False, "reviewers": [{}]}
    set_up(answers, can_admins_bypass=True, protection_rules=[self_review])
    with pytest.raises(DriverError) as refused:
        github.environments(SETTINGS)
    for words in ("Prevent self-review", "Allow administrators to bypass configured protection rules"):
        assert words in readme.replace("\n", " ") and words in str(refused.value)
