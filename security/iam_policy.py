"""A small IAM policy evaluator: does a set of identity policies, under a permissions boundary, allow a request?

AWS's policy simulator is not reachable offline and moto's IAM enforcement ignores resources and most
conditions, so the pipeline roles' documents (github_oidc.py) are evaluated here, as IAM documents them
("Policy evaluation logic", for one account):

1. an explicit `Deny` in any identity policy or in the boundary refuses the request;
2. otherwise an `Allow` in some identity policy is needed, and, when the role has a boundary, an `Allow`
   in the boundary too (a boundary grants nothing by itself).

A statement applies when its `Action`/`NotAction`, `Resource`/`NotResource` and every condition match.
Actions match case-blind with `*` and `?`; resources match ARN part by part (partition, service, region,
account, then the rest, where `*` may span `/` and `:`), case-sensitively. Conditions: the string,
ARN, numeric, `Bool` and `Null` operators, their negations, `IfExists`, and the `ForAllValues:` and
`ForAnyValue:` set operators, with IAM's rules for a key the request lacks (false for a positive
operator, true for a negated one, true with `IfExists`, and true for `ForAllValues:`; a multivalued key
with no values is missing). Condition key names match case-blind, as IAM's do.

What it does not model: resource-based policies (key policies, bucket policies, trust policies),
service control and session policies, other accounts, policy variables (`${aws:username}`: refused),
the `Principal` element, `NotPrincipal`, date and IP operators (refused), and which condition keys a
real request carries: each caller states its request's context (the tests write it per request; that
the policies' keys are ones their actions support is checked against AWS's Service Authorization
Reference in tests/test_iam_lint.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Context = Mapping[str, "str | bool | int | Sequence[str]"]
Document = Mapping[str, Any]

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "explicit deny", "implicit deny"
_STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
                     "StringLike", "StringNotLike"}  # fmt: skip
_ARN_OPERATORS = {"ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"}
_NUMERIC_OPERATORS = {"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
                      "NumericGreaterThan", "NumericGreaterThanEquals"}  # fmt: skip
_OPERATORS = _STRING_OPERATORS | _ARN_OPERATORS | _NUMERIC_OPERATORS | {"Bool", "Null"}
_VARIABLE = re.compile(r"\$\{")


class UnsupportedPolicy(ValueError):
    """The document uses something this evaluator does not model: it refuses rather than guess."""


@dataclass(frozen=True)
class Request:
    """One API request as IAM authorises it: the action, the resource's ARN (or `*`) and the condition keys
    the request carries (a missing key is absent, not empty)."""

    action: str
    resource: str = "*"
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    outcome: str  # ALLOW, EXPLICIT_DENY or IMPLICIT_DENY
    reason: str  # the deciding statement(s), for messages

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: Document) -> list[dict[str, Any]]:
    found = document.get("Statement", [])
    return [dict(s) for s in _listed(found)]


def glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` (any run of characters) and `?` (one); nothing else is special."""
    translated = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(translated, value, flags=re.S | (re.I if ignore_case else 0)) is not None


def action_matches(pattern: str, action: str) -> bool:
    return glob(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """`*` alone matches anything; otherwise both are ARNs, compared part by part (the last part whole)."""
    if pattern == "*":
        return True
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return glob(pattern, arn)
    return all(glob(w, g) for w, g in zip(wanted, given, strict=True))


def _compare(operator: str, wanted: str, given: Any) -> bool:
    """One policy value against one request value, for a positive operator (negation is applied outside)."""
    base = operator.replace("Not", "")
    if operator in _STRING_OPERATORS:
        text = str(given)
        if base == "StringEquals":
            return wanted == text
        if base == "StringEqualsIgnoreCase":
            return wanted.lower() == text.lower()
        return glob(wanted, text)  # StringLike
    if operator in _ARN_OPERATORS:
        return arn_matches(wanted, str(given))
    if operator in _NUMERIC_OPERATORS:
        try:
            number, limit = float(given), float(wanted)
        except ValueError:  # IAM: a value that is no number matches nothing
            return False
        return {"NumericEquals": number == limit, "NumericLessThan": number < limit,
                "NumericLessThanEquals": number <= limit, "NumericGreaterThan": number > limit,
                "NumericGreaterThanEquals": number >= limit}[base]  # fmt: skip
    if operator == "Bool":
        return wanted.lower() == str(given).lower()
    raise UnsupportedPolicy(f"condition operator {operator}")


def condition_holds(operator: str, key: str, values: Any, context: Context) -> bool:
    """One `"<operator>": {"<key>": <values>}` entry against the request context."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    if base not in _OPERATORS or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise UnsupportedPolicy(f"condition operator {operator}")
    if base == "Null" and (if_exists or qualifier):
        raise UnsupportedPolicy(f"condition operator {operator} (IAM takes Null alone)")
    wanted = [str(v).lower() if isinstance(v, bool) else str(v) for v in _listed(values)]
    if any(_VARIABLE.search(w) for w in [*wanted, key]):
        raise UnsupportedPolicy(f"policy variables in {operator} {key}")
    # Condition key names are case-insensitive; their values are compared as each operator says.
    found = {name.lower(): value for name, value in context.items()}.get(key.lower())
    present = found is not None and _listed(found) != []  # a multivalued key with no values is absent
    if base == "Null":
        if len(wanted) != 1 or wanted[0].lower() not in ("true", "false"):
            raise UnsupportedPolicy(f"Null on {key} takes one value, true or false")
        return (not present) == (wanted[0].lower() == "true")
    negated = "Not" in base
    if not present:
        return True if if_exists or qualifier == "ForAllValues" else negated and not qualifier
    given = _listed(found)
    if qualifier == "ForAllValues":  # every request value matches some policy value (negated: none)
        return all(any(_compare(base, w, g) for w in wanted) != negated for g in given)
    if qualifier == "ForAnyValue":
        return any(any(_compare(base, w, g) for w in wanted) != negated for g in given)
    matched = any(_compare(base, w, g) for w in wanted for g in given)
    return not matched if negated else matched


def statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    patterns = [p for key in ("Resource", "NotResource") for p in _listed(statement.get(key, []))]
    if any(_VARIABLE.search(str(p)) for p in patterns):
        raise UnsupportedPolicy(f"policy variables in the resources of {statement.get('Sid', '')!r}")
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _listed(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, request.action) for p in _listed(statement["NotAction"])):
            return False
    else:
        raise UnsupportedPolicy(f"statement {statement.get('Sid', '')!r} has no Action or NotAction")
    if "Resource" in statement:
        if not any(arn_matches(p, request.resource) for p in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(arn_matches(p, request.resource) for p in _listed(statement["NotResource"])):
            return False
    else:
        raise UnsupportedPolicy(f"statement {statement.get('Sid', '')!r} has no Resource or NotResource")
    for operator, entries in statement.get("Condition", {}).items():
        for key, values in entries.items():
            if not condition_holds(operator, key, values, request.context):
                return False
    return True


def _matching(documents: Iterable[Document], request: Request, effect: str) -> list[str]:
    return [str(s.get("Sid") or "(no Sid)") for document in documents for s in statements(document)
            if s.get("Effect") == effect and statement_applies(s, request)]  # fmt: skip


def evaluate(request: Request, identity: Sequence[Document], boundary: Document | None = None) -> Decision:
    """IAM's decision for one request of a role with these identity policies and this boundary (or none)."""
    every = [*identity, *([boundary] if boundary is not None else [])]
    denied = _matching(every, request, "Deny")
    if denied:
        return Decision(EXPLICIT_DENY, f"denied by {', '.join(denied)}")
    allowed = _matching(identity, request, "Allow")
    if not allowed:
        return Decision(IMPLICIT_DENY, "no identity policy allows it")
    if boundary is not None:
        bounded = _matching([boundary], request, "Allow")
        if not bounded:
            return Decision(IMPLICIT_DENY, f"allowed by {', '.join(allowed)}, outside the permissions boundary")
    return Decision(ALLOW, f"allowed by {', '.join(allowed)}")


def from_terraform(statements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The statements of an `aws_iam_policy_document` (as synthesised or planned: `sid`, `actions`,
    `condition` [{test, variable, values}], `principals`, ...) as IAM's JSON document."""
    converted = []
    for s in statements:
        entry: dict[str, Any] = {"Sid": s.get("sid") or "", "Effect": s.get("effect") or "Allow"}
        for ours, theirs in (("actions", "Action"), ("not_actions", "NotAction"), ("resources", "Resource"),
                             ("not_resources", "NotResource")):  # fmt: skip
            if s.get(ours):
                entry[theirs] = list(s[ours])
        for ours, theirs in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
            if s.get(ours):
                entry[theirs] = {p["type"]: list(p["identifiers"]) for p in s[ours]}
        for c in s.get("condition") or []:
            tests = entry.setdefault("Condition", {}).setdefault(c["test"], {})
            if c["variable"] in tests:
                raise UnsupportedPolicy(f"{c['test']} on {c['variable']} twice in statement {entry['Sid']!r}")
            tests[c["variable"]] = list(c["values"])
        converted.append(entry)
    return {"Version": "2012-10-17", "Statement": converted}


def allowed_actions(documents: Iterable[Document]) -> set[str]:
    """Every action pattern an `Allow` statement names (conditions and resources aside); a `NotAction` allow,
    which names what it does not grant, is refused."""
    found = set()
    for document in documents:
        for s in statements(document):
            if s.get("Effect") == "Allow":
                if "Action" not in s:
                    raise UnsupportedPolicy(f"statement {s.get('Sid', '')!r} allows by NotAction")
                found |= set(_listed(s["Action"]))
    return found
