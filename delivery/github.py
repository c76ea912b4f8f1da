"""What the pipeline needs of the GitHub repository, asked of GitHub (`gh api`) and checked:

    python -m delivery.github oidc-subject [--check]   the OIDC subject the roles trust; --check reads it back
    python -m delivery.github environments             every workspace's environment is set up as the README asks

`oidc-subject` prints the one command that customises the repository's OIDC subject to the claim keys the
pipeline roles trust (`store2018.pipeline_policies.WORKFLOW_CLAIM_KEYS`); with `--check` it reads the setting
back and fails when the roles, as `ProjectSettings.github_oidc_subject` sets them, would refuse its tokens
(during the switch, `BOTH`, either is accepted and the next step is printed).

`environments` is the deploy workflow's first job: it fails before any role is assumed when an environment
is missing (GitHub would create it, unprotected, the first time a job names it) or lacks its protection:
deployments from `main` only, and for prod required reviewers, no self-review and no administrator bypass.
Both need `gh` (GitHub's CLI, on GitHub's runners) and a token (`GH_TOKEN`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from delivery.plans import DriverError
from store2018.loading import load_settings
from store2018.pipeline_policies import APPROVED_WORKSPACE, WORKFLOW_CLAIM_KEYS
from store2018.settings import GitHubSubject, Settings

RELEASE_ENVIRONMENT = "release"  # release.yml's job that holds the App's key (README, One-time set-up)
SUBJECT_PATH = "repos/{repository}/actions/oidc/customization/sub"
WANTED_SUBJECT = {"use_default": False, "include_claim_keys": list(WORKFLOW_CLAIM_KEYS)}


def gh_api(path: str) -> dict[str, Any] | None:
    """GET `path` of GitHub's API through `gh`; None when GitHub answers 404."""
    done = subprocess.run(["gh", "api", "-H", "Accept: application/vnd.github+json", path], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        if "HTTP 404" in done.stderr:
            return None
        raise DriverError(f"gh api {path} failed: {done.stderr.strip()}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def repository_of(settings: Settings) -> str:
    repository = settings.project.github_repository
    if not repository:
        raise DriverError("ProjectSettings.github_repository is '' (no pipeline): set it to OWNER/NAME in "
                          "constructs/store2018/environments.py first")  # fmt: skip
    return repository


def oidc_subject(settings: Settings, *, check: bool) -> int:
    repository = repository_of(settings)
    path = SUBJECT_PATH.format(repository=repository)
    if not check:
        print("Customise the repository's OIDC subject (an administrator of the repository; it changes the `sub` "
              "of every token the repository's workflows get):\n\n"
              f"  echo '{json.dumps(WANTED_SUBJECT)}' | gh api --method PUT {path} --input -\n\n"
              "Then read it back: make oidc-subject-check")  # fmt: skip
        return 0
    found = gh_api(path)
    trusted = settings.project.github_oidc_subject
    customised = found == WANTED_SUBJECT
    accepted = trusted is GitHubSubject.BOTH or customised == (trusted is GitHubSubject.WORKFLOW)
    what = (f"has the claim keys {', '.join(WORKFLOW_CLAIM_KEYS)}" if customised
            else f"is {json.dumps(found)}, not the pipeline's {json.dumps(WANTED_SUBJECT)}")  # fmt: skip
    if not accepted:
        fix = ("run `make oidc-subject` for the command that customises it" if trusted is GitHubSubject.WORKFLOW
               else "set ProjectSettings.github_oidc_subject to GitHubSubject.BOTH, apply the bootstrap, then "
               "GitHubSubject.WORKFLOW")  # fmt: skip
        raise DriverError(f"{repository}'s OIDC subject {what}; ProjectSettings.github_oidc_subject is "
                          f"{trusted.name}, so the pipeline roles refuse its tokens: {fix}")  # fmt: skip
    step = ""
    if trusted is GitHubSubject.BOTH:
        step = ("; next: set ProjectSettings.github_oidc_subject to GitHubSubject.WORKFLOW and apply the bootstrap"
                if customised else "; next: `make oidc-subject` switches it")  # fmt: skip
    print(f"{repository}'s OIDC subject {what}: the roles (GitHubSubject.{trusted.name}) accept its tokens{step}")
    return 0


def environment_problems(repository: str, workspace: str, approved: bool) -> list[str]:
    """What the environment of `workspace` lacks of the README's set-up ("Pipeline trust")."""
    base = f"repos/{repository}/environments/{workspace}"
    found = gh_api(base)
    if found is None:
        return [f"environment {workspace!r} does not exist: create it as the README says (GitHub would create it "
                "without protection the first time a job names it)"]  # fmt: skip
    problems = []
    policy = found.get("deployment_branch_policy") or {}
    branches = gh_api(f"{base}/deployment-branch-policies") if policy.get("custom_branch_policies") else None
    names = sorted((b.get("type", "branch"), b.get("name")) for b in (branches or {}).get("branch_policies", []))
    if names != [("branch", "main")]:
        problems.append(f"environment {workspace!r} must allow deployments from the branch `main` only (selected "
                        f"branches: main); it allows {names or 'any branch'}")  # fmt: skip
    if approved:
        rules = {rule.get("type"): rule for rule in found.get("protection_rules", [])}
        reviewers = rules.get("required_reviewers")
        if not reviewers or not reviewers.get("reviewers"):
            problems.append(f"environment {workspace!r} has no required reviewers")
        elif not reviewers.get("prevent_self_review"):
            problems.append(f"environment {workspace!r} lets the person who started a run approve it: tick "
                            "'Prevent self-review'")  # fmt: skip
        if found.get("can_admins_bypass", True):
            problems.append(f"environment {workspace!r} lets administrators bypass its protection: untick 'Allow "
                            "administrators to bypass configured protection rules'")  # fmt: skip
    return problems


def environments(settings: Settings) -> int:
    repository = repository_of(settings)
    problems = [
        p for ws in settings.environments for p in environment_problems(repository, ws, ws == APPROVED_WORKSPACE)
    ]
    # The release App's key lives in its environment's secrets: readable by workflows on main only.
    problems += environment_problems(repository, RELEASE_ENVIRONMENT, approved=False)
    if problems:
        raise DriverError("the GitHub environments are not set up as the README asks (\"Pipeline trust\"):\n  "
                          + "\n  ".join(problems))  # fmt: skip
    print(f"{repository}: environments {', '.join([*settings.environments, RELEASE_ENVIRONMENT])} are set up "
          f"({APPROVED_WORKSPACE}: required reviewers, no self-review, no administrator bypass; all: deployments "
          "from main only)")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery.github", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("oidc-subject").add_argument("--check", action="store_true")
    sub.add_parser("environments")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "oidc-subject":
            return oidc_subject(settings, check=args.check)
        return environments(settings)
    except DriverError as error:
        print(f"{args.command} refused: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
