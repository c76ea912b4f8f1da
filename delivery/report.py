"""The review report of saved plans: what each workspace's plan does, what it costs, what drifted.

Per workspace: the replacements and destroys of stateful or shared resources first (state bucket,
load balancer, NAT gateways, Cloud Map, subnets, ...), then counts to add, change, replace and
destroy, by service and by resource type; the monthly cost before and after (delivery/costs.py);
the drift a refresh-only plan found; and the security gate's summary when it ran. Markdown for a
pull-request comment (its first line is a marker the workflow finds to update one comment), JSON
for machines. Neither holds an attribute value: addresses, actions, counts, prices, and per change a
keyed digest of its planned values (`change_digest`), by which an apply finds a look-alike change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delivery import costs
from delivery.plans import Drift, PlanRecord, SavedPlan, drift_of, synthesis_hash

MARKER = "<!-- store2018-review -->"
# Resources whose replacement or destruction loses data, cuts traffic or moves what others depend on.
STATEFUL_OR_SHARED = {
    "aws_s3_bucket": "state bucket",
    "aws_kms_key": "encryption key (what it encrypted becomes unreadable)",
    "aws_lb": "load balancer (its DNS name changes)",
    "aws_lb_listener": "load balancer listener",
    "aws_nat_gateway": "NAT gateway (private subnets lose the internet)",
    "aws_eip": "Elastic IP (the address changes)",
    "aws_service_discovery_service": "Cloud Map service (its DNS name goes away)",
    "aws_service_discovery_private_dns_namespace": "Cloud Map namespace",
    "aws_subnet": "subnet",
    "aws_vpc": "VPC",
    "aws_ecs_cluster": "ECS cluster",
    "aws_cloudwatch_log_group": "log group (its logs are deleted)",
}
ACTION_NAMES = {("create",): "add", ("update",): "change", ("delete",): "destroy",
                ("delete", "create"): "replace", ("create", "delete"): "replace"}  # fmt: skip
KINDS = ("add", "change", "replace", "destroy")


@dataclass(frozen=True)
class Change:
    address: str
    type: str
    kind: str  # add, change, replace, destroy
    group: str  # a service of the catalog, or "shared"
    digest: str  # keyed hash of the planned values (change_digest): two plans of one change agree on it


def review_key(record: PlanRecord) -> bytes:
    """The key of the changes' digests: the workspace state's lineage, which only readers of the state (who
    can read every value anyway) know, so a review file shows no value, not even by guessing. A first deploy
    has no state: its digests are keyed with a constant and hide only what the public synthesis does not."""
    return hashlib.sha256(f"store2018-review-v1\0{record.state_lineage or ''}".encode()).digest()


def known_values(value: Any, unknown: Any, sensitive: Any) -> Any:
    """`value` without what the plan marks unknown (known after apply) or sensitive, at any depth."""
    if isinstance(value, dict):
        return {k: known_values(v, _mask(unknown, k), _mask(sensitive, k)) for k, v in sorted(value.items())
                if _mask(unknown, k) is not True and _mask(sensitive, k) is not True}  # fmt: skip
    if isinstance(value, list):
        return [known_values(v, _mask(unknown, i), _mask(sensitive, i)) if _mask(unknown, i) is not True
                and _mask(sensitive, i) is not True else None for i, v in enumerate(value)]  # fmt: skip
    return value


def _mask(mask: Any, key: str | int) -> Any:
    if isinstance(mask, dict) and isinstance(key, str):
        return mask.get(key)
    if isinstance(mask, list) and isinstance(key, int) and key < len(mask):
        return mask[key]
    return mask if isinstance(mask, bool) else None


def change_digest(change: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of a change's actions and planned values (`after`), unknown and sensitive values left
    out: a look-alike change (the same address and action with another image, say) has another digest."""
    after = change.get("after")
    if change.get("after_sensitive") is True:
        after = None
    known = known_values(after, change.get("after_unknown"), change.get("after_sensitive"))
    text = json.dumps({"actions": change.get("actions"), "after": known}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def kind_of(actions: list[str]) -> str | None:
    return ACTION_NAMES.get(tuple(actions))  # no-op and read: None


def group_of(address: str, services: list[str]) -> str:
    """The catalog service a resource belongs to, from its construct path (`service_account_task_...`,
    `load_balancer_target_account_...`); everything else is shared."""
    name = address.rsplit(".", 1)[-1]
    for service in services:
        if re.match(rf"(service|load_balancer_target|load_balancer_rule)_{re.escape(service)}_", name):
            return service
    return "shared"


def changes_of(plan: dict[str, Any], services: list[str], key: bytes) -> list[Change]:
    found = []
    for entry in plan.get("resource_changes", []):
        if entry.get("mode") == "data":
            continue
        kind = kind_of(entry["change"]["actions"])
        if kind:
            digest = change_digest(entry["change"], key)
            found.append(Change(entry["address"], entry["type"], kind, group_of(entry["address"], services), digest))
    return found


def call_outs(found: list[Change]) -> list[Change]:
    return [c for c in found if c.kind in ("replace", "destroy") and c.type in STATEFUL_OR_SHARED]


def region_of(plan: dict[str, Any]) -> str:
    """The provider's region as the plan's configuration gives it (a literal in this project's synthesis)."""
    config = plan.get("configuration", {}).get("provider_config", {}).get("aws", {})
    region = config.get("expressions", {}).get("region", {}).get("constant_value")
    return str(region) if region else "unknown"


@dataclass(frozen=True)
class WorkspaceReview:
    workspace: str
    record: PlanRecord
    stale: bool  # terraform/ changed since the plan: it would be refused
    changes: list[Change]
    cost: costs.CostChange
    drift: list[Drift] | None  # None: no refresh-only plan (a first deploy has nothing to drift)

    def counts(self) -> dict[str, int]:
        counted = Counter(c.kind for c in self.changes)
        return {kind: counted.get(kind, 0) for kind in KINDS}

    def by(self, key: str) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = defaultdict(Counter)
        for c in self.changes:
            table[getattr(c, key)][c.kind] += 1
        return {name: {kind: counted.get(kind, 0) for kind in KINDS} for name, counted in sorted(table.items())}


def review(
    saved: SavedPlan, services: list[str], prices: costs.PriceTable, *, stack_dir: Path,
    ignored: dict[str, set[str]] | None = None,
) -> WorkspaceReview:  # fmt: skip
    """One workspace's saved plan reviewed; `stack_dir` is the synthesis it must have been made from."""
    plan = saved.plan()
    refresh = saved.drift()
    record = saved.record()
    return WorkspaceReview(
        workspace=saved.workspace,
        record=record,
        stale=record.synthesis_sha256 != synthesis_hash(stack_dir),
        changes=changes_of(plan, services, review_key(record)),
        cost=costs.cost_change(plan, region_of(plan), prices),
        drift=None if refresh is None else drift_of(refresh, ignored),
    )


def _table(rows: dict[str, dict[str, int]], first: str) -> list[str]:
    lines = [f"| {first} | " + " | ".join(KINDS) + " |", "|---|" + "---:|" * len(KINDS)]
    lines += [f"| {name} | " + " | ".join(str(n[k]) for k in KINDS) + " |" for name, n in rows.items()]
    return lines


def markdown(reviews: list[WorkspaceReview], gate: dict[str, Any] | None) -> str:
    lines = [MARKER, "# Review: what the plans do", ""]
    for r in reviews:
        n = r.counts()
        lines += [f"## `{r.workspace}`: {n['add']} to add, {n['change']} to change, {n['replace']} to replace, "
                  f"{n['destroy']} to destroy", "", f"Planned {_when(r.record)}.", ""]  # fmt: skip
        if r.stale:
            lines += [f"**Stale:** terraform/ changed since this plan; `make apply` refuses it. Plan again: "
                      f"`make plan WORKSPACE={r.workspace}`.", ""]  # fmt: skip
        flagged = call_outs(r.changes)
        if flagged:
            lines += ["**Stateful or shared resources replaced or destroyed:**", ""]
            lines += [f"- :warning: **{c.kind}** `{c.address}`: {STATEFUL_OR_SHARED[c.type]}" for c in flagged]
            lines += [""]
        else:
            lines += ["No stateful or shared resource is replaced or destroyed.", ""]
        if r.changes:
            lines += [*_table(r.by("group"), "service"), "", *_table(r.by("type"), "resource type"), ""]
        lines += ["### Monthly cost", "", costs.markdown(r.cost), ""]
        lines += ["### Drift (refresh-only plan)", ""]
        if r.drift is None:
            lines += ["Not checked: the workspace has no state yet.", ""]
        elif not r.drift:
            lines += ["None: the infrastructure matches the state.", ""]
        else:
            lines += [f"- `{d.address}`: {'/'.join(d.actions)} outside Terraform"
                      + (f" ({', '.join(d.attributes)})" if d.attributes else "") for d in r.drift]  # fmt: skip
            lines += ["", "The plan above puts these back as the configuration says.", ""]
    lines += ["## Security gate", ""]
    if gate is None:
        lines += ["Not run for these plans (`make gate`)."]
    else:
        for scan in gate["scans"]:
            lines += [f"- {scan['name']}: passed {scan['passed']}, failed {scan['failed']}, skipped {scan['skipped']}"]
        lines += [f"- **{'passed' if gate['ok'] else 'FAILED'}**"]
    return "\n".join(lines) + "\n"


def as_json(reviews: list[WorkspaceReview], gate: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "workspaces": {
            r.workspace: {
                "commit": r.record.commit,
                "planned_at": r.record.planned_at,
                "synthesis_sha256": r.record.synthesis_sha256,
                "stale": r.stale,
                "counts": r.counts(),
                "call_outs": [{"address": c.address, "type": c.type, "action": c.kind} for c in call_outs(r.changes)],
                "by_service": r.by("group"),
                "by_type": r.by("type"),
                "changes": [
                    {"address": c.address, "type": c.type, "action": c.kind, "service": c.group, "digest": c.digest}
                    for c in r.changes
                ],
                "cost": costs.as_json(r.cost),
                "drift": None
                if r.drift is None
                else [
                    {"address": d.address, "type": d.type, "actions": list(d.actions), "attributes": list(d.attributes)}
                    for d in r.drift
                ],
            }
            for r in reviews
        },
        "gate": gate,
    }


def _when(record: PlanRecord) -> str:
    at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.planned_at))
    return f"at {at} from commit `{record.commit[:12]}`" if record.commit else f"at {at}"


def drift_markdown(workspace: str, found: list[Drift]) -> str:
    if not found:
        return f"No drift in `{workspace}`: the infrastructure matches the state.\n"
    lines = [f"# Drift in `{workspace}`", "", "Changed outside Terraform (a refresh-only plan):", ""]
    lines += [f"- `{d.address}`: {'/'.join(d.actions)}" + (f" ({', '.join(d.attributes)})" if d.attributes else "")
              for d in found]  # fmt: skip
    lines += ["", f"Review, then either put it back (`make plan WORKSPACE={workspace}` and apply) or bring the "
              "change into the code."]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_reports(folder: Path, name: str, text: str, document: dict[str, Any]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"{name}.md", folder / f"{name}.json"
    md.write_text(text)
    js.write_text(json.dumps(document, indent=2) + "\n")
    return md, js
