"""The IAM evaluator (security/iam_policy.py) against the rules IAM documents: what it allows and refuses
is what the exploit tests in test_github_oidc.py rely on, so each rule here can fail on its own."""

from __future__ import annotations

from typing import Any

import pytest

from security.iam_policy import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    Request,
    UnsupportedPolicy,
    allowed_actions,
    arn_matches,
    condition_holds,
    evaluate,
)

KEY = "arn:aws:kms:us-west-2:123456789012:key/1234"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [("kms:*", "kms:Decrypt", True), ("KMS:decrypt", "kms:Decrypt", True), ("kms:De*", "kms:Encrypt", False),
     ("kms:Decrypt?", "kms:Decrypt", False), ("ec2:Describe*", "ec2:DescribeVpcs", True), ("*", "iam:PassRole", True)],
)  # fmt: skip
def test_actions_match_case_blind_with_wildcards(pattern: str, action: str, expected: bool) -> None:
    assert evaluate(Request(action), [policy(allow(pattern))]).allowed is expected


@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        ("*", "arn:aws:s3:::b/k", True),
        (
            "arn:aws:logs:us-west-2:1:log-group:/ecs/x/*",
            "arn:aws:logs:us-west-2:1:log-group:/ecs/x/a:log-stream:s",
            True,
        ),
        ("arn:aws:logs:us-west-2:1:log-group:/ecs/x/*", "arn:aws:logs:us-west-2:1:log-group:/ecs/y/a", False),
        ("arn:aws:iam::1:role/staging-p-*", "arn:aws:iam::1:role/prod-p-x", False),
        ("arn:aws:kms:*:1:key/*", "arn:aws:kms:eu-west-1:1:key/k", True),
        ("arn:aws:kms:us-west-2:1:key/*", "arn:aws:kms:us-west-2:2:key/k", False),
        ("arn:aws:s3:::b/env:/staging/k", "arn:aws:s3:::b/env:/prod/k", False),
        ("arn:aws:iam::1:role/A", "arn:aws:iam::1:role/a", False),  # resources are case-sensitive
    ],
)
def test_resources_match_part_by_part(pattern: str, arn: str, expected: bool) -> None:
    assert arn_matches(pattern, arn) is expected
    assert evaluate(Request("s3:GetObject", arn), [policy(allow("s3:GetObject", pattern))]).allowed is expected


def test_an_explicit_deny_wins_over_any_allow() -> None:
    documents = [policy(allow("*")), policy(deny("kms:ScheduleKeyDeletion", KEY))]
    assert evaluate(Request("kms:ScheduleKeyDeletion", KEY), documents).outcome == EXPLICIT_DENY
    assert evaluate(Request("kms:DescribeKey", KEY), documents).outcome == ALLOW


def test_nothing_allowed_is_an_implicit_deny() -> None:
    assert evaluate(Request("kms:Decrypt", KEY), [policy(allow("kms:Encrypt"))]).outcome == IMPLICIT_DENY


def test_a_boundary_intersects_and_denies_too() -> None:
    identity = [policy(allow("*"))]
    boundary = policy(allow("logs:PutLogEvents"), deny("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:/x:*"))
    assert evaluate(Request("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:/y:s"), identity, boundary).allowed
    assert evaluate(Request("ssm:GetParameters"), identity, boundary).outcome == IMPLICIT_DENY  # not in the boundary
    assert evaluate(Request("logs:PutLogEvents", "arn:aws:logs:r:1:log-group:/x:s"), identity,
                    boundary).outcome == EXPLICIT_DENY  # fmt: skip
    # A boundary grants nothing by itself.
    assert evaluate(Request("logs:PutLogEvents"), [policy(allow("s3:GetObject"))], boundary).outcome == IMPLICIT_DENY


def test_not_action_and_not_resource() -> None:
    documents = [policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"})]
    assert evaluate(Request("s3:GetObject", "arn:aws:s3:::public/k"), documents).allowed
    assert not evaluate(Request("iam:PassRole", "arn:aws:s3:::public/k"), documents).allowed
    assert not evaluate(Request("s3:GetObject", "arn:aws:s3:::secret/k"), documents).allowed


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEquals", ["prod", "staging"], {"k": "staging"}, True),
        ("StringEquals", ["prod"], {"k": "Prod"}, False),
        ("StringEquals", ["prod"], {}, False),  # a positive operator on a missing key
        ("StringNotEquals", ["prod"], {}, True),  # a negated one
        ("StringNotEquals", ["prod"], {"k": "prod"}, False),
        ("StringEqualsIfExists", ["prod"], {}, True),
        ("StringEqualsIfExists", ["prod"], {"k": "staging"}, False),
        ("StringLike", ["staging-*"], {"k": "staging-x"}, True),
        ("StringEqualsIgnoreCase", ["PROD"], {"k": "prod"}, True),
        ("ArnLike", ["arn:aws:iam::1:role/*"], {"k": "arn:aws:iam::1:role/x"}, True),
        ("Bool", ["true"], {"k": True}, True),
        ("Bool", ["true"], {"k": "false"}, False),
        ("NumericLessThan", ["30"], {"k": 7}, True),
        ("NumericLessThan", ["30"], {"k": 30}, False),
        ("NumericLessThan", ["30"], {}, False),
        ("Null", ["true"], {}, True),
        ("Null", ["true"], {"k": "x"}, False),
        ("Null", ["false"], {"k": "x"}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),  # vacuously: pair it with Null
        ("ForAllValues:StringEquals", ["a"], {"k": []}, True),
        ("Null", ["false"], {"k": []}, False),  # no values: the key is missing
        ("ForAnyValue:StringEquals", ["a"], {"k": ["b", "a"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {}, False),
        ("ForAllValues:StringNotEquals", ["Workspace"], {"k": ["ManagedBy", "Workspace"]}, False),
    ],
)
def test_condition_operators(operator: str, values: list[str], context: dict[str, Any], expected: bool) -> None:
    assert condition_holds(operator, "k", values, context) is expected
    document = policy(allow("kms:TagResource", Condition={operator: {"k": values}}))
    assert evaluate(Request("kms:TagResource", KEY, context), [document]).allowed is expected


def test_condition_key_names_match_case_blind_and_values_as_their_operator_says() -> None:
    document = policy(allow("kms:Decrypt", KEY, Condition={"StringEquals": {"AWS:ResourceTag/Workspace": "prod"}}))
    assert evaluate(Request("kms:Decrypt", KEY, {"aws:ResourceTag/Workspace": "prod"}), [document]).allowed
    assert not evaluate(Request("kms:Decrypt", KEY, {"aws:ResourceTag/Workspace": "PROD"}), [document]).allowed


def test_a_number_that_is_no_number_matches_nothing() -> None:
    assert not condition_holds("NumericLessThan", "k", ["30"], {"k": "soon"})


def test_every_condition_of_a_statement_must_hold() -> None:
    document = policy(allow("kms:CreateKey", Condition={
        "StringEquals": {"aws:RequestTag/Workspace": "staging", "aws:RequestedRegion": "us-west-2"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Workspace"]}}))  # fmt: skip
    good = {"aws:RequestTag/Workspace": "staging", "aws:RequestedRegion": "us-west-2", "aws:TagKeys": ["Workspace"]}
    assert evaluate(Request("kms:CreateKey", "*", good), [document]).allowed
    for key, wrong in (("aws:RequestTag/Workspace", "prod"), ("aws:RequestedRegion", "eu-west-1"),
                       ("aws:TagKeys", ["Workspace", "Owner"])):  # fmt: skip
        assert not evaluate(Request("kms:CreateKey", "*", {**good, key: wrong}), [document]).allowed, key


@pytest.mark.parametrize(
    "statement",
    [allow("s3:GetObject", Condition={"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}}),
     allow("s3:GetObject", "arn:aws:s3:::b/${aws:username}/*"),
     allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/x": "${aws:username}"}}),
     {"Effect": "Allow", "Action": "s3:GetObject"},
     {"Effect": "Allow", "Resource": "*"},
     allow("s3:GetObject", Condition={"StringEquals": {"aws:ResourceTag/${aws:PrincipalTag/x}": "y"}}),
     allow("s3:GetObject", Condition={"NullIfExists": {"aws:PrincipalTag/x": "true"}})],
    ids=["date operator", "policy variable in a resource", "policy variable in a condition", "no resource",
         "no action", "policy variable in a key", "Null with IfExists"],
)  # fmt: skip
def test_what_it_does_not_model_is_refused_not_guessed(statement: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPolicy):
        evaluate(
            Request("s3:GetObject", "arn:aws:s3:::b/alice/k", {"aws:PrincipalTag/x": "alice"}), [policy(statement)]
        )


def test_an_allow_by_not_action_is_refused_where_actions_are_listed() -> None:
    with pytest.raises(UnsupportedPolicy, match="NotAction"):
        allowed_actions([policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})])
    assert allowed_actions([policy(allow(["s3:GetObject", "kms:Decrypt"]), deny("iam:*"))]) == {
        "s3:GetObject",
        "kms:Decrypt",
    }
