"""A monthly cost estimate of a Terraform plan, from a pinned and dated price table (`prices.json`).

The review driver hands over `terraform show -json <planfile>` documents. `cost_change` prices the
state before the plan (`prior_state`) and after it (`planned_values`) with the same table, so a reviewer
sees what an apply adds to the monthly bill. Only the resource types this project creates are priced
(NAT gateways, the load balancer, Fargate services, public IPv4 addresses, log groups, alarms,
dashboards, KMS keys); `NOT_COUNTED` says what is left out, and a resource that cannot be priced from
the plan is listed by name rather than guessed.

The prices are read from a file, not from AWS: an estimate must be repeatable, reviewable in a diff, and
work offline. Their date travels with every report so a stale table shows.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices.json")

# Fargate's 1 vCPU is 1024 CPU units and task memory is given in MiB.
CPU_UNITS_PER_VCPU = 1024
MIB_PER_GIB = 1024
# CloudWatch bills an alarm evaluated more often than once a minute at the high-resolution rate.
STANDARD_ALARM_PERIOD_SECONDS = 60

NOT_COUNTED: tuple[str, ...] = (
    "Data transfer out to the internet and between Availability Zones.",
    "S3 storage and requests of the Terraform state bucket.",
    "Requests to KMS, SNS, Cloud Map and Route 53, and Route 53 hosted zones and records "
    "(a Cloud Map private namespace has a hosted zone).",
    "CloudWatch Container Insights metrics.",
    "VPC flow log delivery: the flow-log group is counted like any log group, at the assumed "
    "ingestion, not at its real traffic volume.",
    "CloudWatch Logs storage: ingestion is counted at the assumed volume, stored logs are not.",
    "ECS Exec sessions.",
    "Tasks that autoscaling adds above each service's desired count.",
    "Fargate ephemeral storage beyond the 20 GB included with each task.",
    "KMS key rotation: a rotated key is counted as one key, its extra key versions are not.",
    "Free tiers (such as 3 dashboards and 10 alarm metrics a month): every item is priced in full.",
    "Taxes.",
    "Savings Plans, reservations and other discounts.",
    "Resources of any other type in the plan.",
)


class PriceTableError(ValueError):
    """The price table is malformed: the message names the file, the key and what is allowed."""


@dataclass(frozen=True)
class RegionPrices:
    """One region's on-demand list prices, in USD per the unit in each name."""

    nat_gateway_hour: float
    nat_gateway_gb: float
    alb_hour: float
    alb_lcu_hour: float
    fargate_vcpu_hour: float
    fargate_gb_hour: float
    public_ipv4_hour: float
    logs_ingestion_gb: float
    alarm_standard_metric_month: float
    alarm_high_resolution_metric_month: float
    dashboard_month: float
    kms_key_month: float
    # Graviton rates only where a source was found: without them an ARM64 service is listed as not priced.
    fargate_arm_vcpu_hour: float | None = None
    fargate_arm_gb_hour: float | None = None


@dataclass(frozen=True)
class Assumptions:
    """Usage the plan cannot tell: the table states it so the estimate is reproducible."""

    nat_gb_per_gateway_month: float
    alb_lcus_per_hour: float
    log_gb_per_group_month: float


@dataclass(frozen=True)
class PriceTable:
    """A validated price table: its date and source go into every report."""

    as_of: str
    source: str
    currency: str
    hours_per_month: float
    assumptions: Assumptions
    regions: Mapping[str, RegionPrices]


_OPTIONAL_PRICE_KEYS = ("fargate_arm_vcpu_hour", "fargate_arm_gb_hour")
PRICE_KEYS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(RegionPrices) if f.name not in _OPTIONAL_PRICE_KEYS
)
ASSUMPTION_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Assumptions))
_TOP_LEVEL_KEYS = ("as_of", "source", "currency", "hours_per_month", "assumptions", "regions")
# Kept in the file for people (what each price was read from), not used by the code.
_INFORMATIONAL_KEYS = ("notes", "sources")


@dataclass(frozen=True)
class Line:
    """One priced item of an estimate."""

    item: str
    quantity: float
    unit: str
    monthly_usd: float


@dataclass(frozen=True)
class Estimate:
    """The monthly cost of one state. `notes` names what the plan holds but the table cannot price."""

    region: str
    lines: tuple[Line, ...]
    priced: bool
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> float | None:
        """USD per month; None when the table has no prices for the region."""
        if not self.priced:
            return None
        return math.fsum(line.monthly_usd for line in self.lines)


@dataclass(frozen=True)
class ItemChange:
    """One item before and after the plan (0 where a side does not have it)."""

    item: str
    unit: str
    before_quantity: float
    after_quantity: float
    before_usd: float
    after_usd: float

    @property
    def change_usd(self) -> float:
        return self.after_usd - self.before_usd


@dataclass(frozen=True)
class CostChange:
    """What a plan does to the monthly bill: both estimates, per-item deltas and the table used."""

    before: Estimate
    after: Estimate
    items: tuple[ItemChange, ...]
    table: PriceTable

    @property
    def region(self) -> str:
        return self.after.region

    @property
    def priced(self) -> bool:
        return self.after.priced

    @property
    def total_change(self) -> float | None:
        if self.before.total is None or self.after.total is None:
            return None
        return self.after.total - self.before.total


# ----------------------------------------------------------------------------------------- the table


def load_prices(path: Path = PRICES_FILE) -> PriceTable:
    """Read and validate a price table; a `PriceTableError` names the file and the faulty key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise PriceTableError(f"{path}: not valid JSON ({error})") from error
    return parse_prices(data, origin=str(path))


def parse_prices(data: Any, *, origin: str = "price table") -> PriceTable:
    """Validate a decoded price table: every region has every price key, every number is >= 0."""
    table = _mapping(data, origin, "the table")
    _no_unknown_keys(table, (*_TOP_LEVEL_KEYS, *_INFORMATIONAL_KEYS), origin, "the table")
    for key in _TOP_LEVEL_KEYS:
        if key not in table:
            raise PriceTableError(f"{origin}: the table has no '{key}' (it needs {', '.join(_TOP_LEVEL_KEYS)})")

    as_of = table["as_of"]
    if not _is_date(as_of):
        raise PriceTableError(f"{origin}: 'as_of' is {as_of!r}: give the date the prices were read, YYYY-MM-DD")
    source = table["source"]
    if not isinstance(source, str) or not source.strip():
        raise PriceTableError(f"{origin}: 'source' is {source!r}: name where the prices were read")
    if table["currency"] != "USD":
        raise PriceTableError(f"{origin}: 'currency' is {table['currency']!r}: the reports are in USD, give USD prices")
    hours = _price(table["hours_per_month"], origin, "hours_per_month")
    if hours == 0:
        raise PriceTableError(f"{origin}: 'hours_per_month' is 0: give the hours in a month (730)")

    assumptions_data = _mapping(table["assumptions"], origin, "assumptions")
    _no_unknown_keys(assumptions_data, ASSUMPTION_KEYS, origin, "assumptions")
    assumption_values: dict[str, float] = {}
    for key in ASSUMPTION_KEYS:
        if key not in assumptions_data:
            raise PriceTableError(f"{origin}: assumptions has no '{key}' (it needs {', '.join(ASSUMPTION_KEYS)})")
        assumption_values[key] = _price(assumptions_data[key], origin, f"assumptions.{key}")

    regions_data = _mapping(table["regions"], origin, "regions")
    if not regions_data:
        raise PriceTableError(f"{origin}: 'regions' is empty: give the prices of at least one region")
    regions: dict[str, RegionPrices] = {}
    for region, prices_data in regions_data.items():
        where = f"regions.{region}"
        prices = _mapping(prices_data, origin, where)
        _no_unknown_keys(prices, (*PRICE_KEYS, *_OPTIONAL_PRICE_KEYS), origin, where)
        for key in PRICE_KEYS:
            if key not in prices:
                raise PriceTableError(
                    f"{origin}: {where} has no price '{key}' (every region needs {', '.join(PRICE_KEYS)})"
                )
        given_arm = [key for key in _OPTIONAL_PRICE_KEYS if key in prices]
        if len(given_arm) == 1:
            missing = next(key for key in _OPTIONAL_PRICE_KEYS if key not in prices)
            raise PriceTableError(
                f"{origin}: {where} has '{given_arm[0]}' but no '{missing}': give both ARM64 prices or neither"
            )
        values = {key: _price(value, origin, f"{where}.{key}") for key, value in prices.items()}
        regions[region] = RegionPrices(**values)

    return PriceTable(
        as_of=as_of,
        source=source,
        currency="USD",
        hours_per_month=hours,
        assumptions=Assumptions(**assumption_values),
        regions=regions,
    )


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _mapping(value: Any, origin: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PriceTableError(f"{origin}: {where} is {type(value).__name__}: it must be a JSON object")
    return value


def _no_unknown_keys(data: Mapping[str, Any], allowed: Sequence[str], origin: str, where: str) -> None:
    # A misspelt price key would otherwise read as a missing one, or be silently ignored.
    for key in data:
        if key not in allowed:
            raise PriceTableError(f"{origin}: {where} has an unknown key '{key}' (allowed: {', '.join(allowed)})")


def _price(value: Any, origin: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PriceTableError(f"{origin}: '{where}' is {value!r}: it must be a number >= 0")
    return float(value)


# ---------------------------------------------------------------------------------------- the plan


def state_resources(state_values: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The managed resources of a plan's `prior_state["values"]` or `planned_values`, child modules
    included; data sources are left out. None (no state yet) gives []."""
    if not state_values:
        return []
    resources: list[dict[str, Any]] = []
    root = state_values.get("root_module")
    modules: list[Any] = [root] if isinstance(root, Mapping) else []
    while modules:
        module = modules.pop(0)
        for resource in module.get("resources") or ():
            if isinstance(resource, dict) and resource.get("mode", "managed") == "managed":
                resources.append(resource)
        children = [child for child in module.get("child_modules") or () if isinstance(child, Mapping)]
        modules[:0] = children
    return resources


# ----------------------------------------------------------------------------------- the estimate

# (item, unit) in the order the report lists them; the item name is the key of a before/after delta.
NAT_HOURS = ("NAT gateway hours", "gateway-hours/month")
NAT_DATA = ("NAT gateway data processed (assumed)", "GB/month")
ALB_HOURS = ("Load balancer hours", "LB-hours/month")
ALB_LCUS = ("Load balancer LCUs (assumed)", "LCU-hours/month")
FARGATE_VCPU = ("Fargate vCPU", "vCPU-hours/month")
FARGATE_MEMORY = ("Fargate memory", "GB-hours/month")
FARGATE_ARM_VCPU = ("Fargate vCPU (ARM64)", "vCPU-hours/month")
FARGATE_ARM_MEMORY = ("Fargate memory (ARM64)", "GB-hours/month")
PUBLIC_IPV4 = ("Public IPv4 addresses", "address-hours/month")
LOG_INGESTION = ("CloudWatch Logs ingestion (assumed)", "GB/month")
ALARMS_STANDARD = ("CloudWatch alarms, standard resolution", "alarm metrics")
ALARMS_HIGH_RESOLUTION = ("CloudWatch alarms, high resolution", "alarm metrics")
DASHBOARDS = ("CloudWatch dashboards", "dashboards")
KMS_KEYS = ("KMS keys", "keys")
ITEM_ORDER: tuple[tuple[str, str], ...] = (
    NAT_HOURS,
    NAT_DATA,
    ALB_HOURS,
    ALB_LCUS,
    FARGATE_VCPU,
    FARGATE_MEMORY,
    FARGATE_ARM_VCPU,
    FARGATE_ARM_MEMORY,
    PUBLIC_IPV4,
    LOG_INGESTION,
    ALARMS_STANDARD,
    ALARMS_HIGH_RESOLUTION,
    DASHBOARDS,
    KMS_KEYS,
)
_RANK = {item: rank for rank, (item, _) in enumerate(ITEM_ORDER)}


class _Lines:
    """Quantities and costs summed per item, over all the resources of a state."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str], list[float]] = {}

    def add(self, item: tuple[str, str], quantity: float, usd_per_unit: float) -> None:
        sums = self._sums.setdefault(item, [0.0, 0.0])
        sums[0] += quantity
        sums[1] += quantity * usd_per_unit

    def lines(self) -> tuple[Line, ...]:
        ordered = sorted(self._sums.items(), key=lambda entry: _RANK[entry[0][0]])
        return tuple(Line(item, quantity, unit, usd) for (item, unit), (quantity, usd) in ordered)


def estimate(resources: Iterable[Mapping[str, Any]], region: str, prices: PriceTable) -> Estimate:
    """The monthly cost of a state's resources in `region`; unpriced (no lines) when the table has no
    prices for the region. Each resource is priced from its `values` as the plan JSON gives them."""
    rates = prices.regions.get(region)
    if rates is None:
        return Estimate(region=region, lines=(), priced=False)
    hours = prices.hours_per_month
    assumed = prices.assumptions
    lines = _Lines()
    notes: list[str] = []
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(str(resource.get("type")), []).append(resource)

    for _ in by_type.get("aws_nat_gateway", ()):
        lines.add(NAT_HOURS, hours, rates.nat_gateway_hour)
        lines.add(NAT_DATA, assumed.nat_gb_per_gateway_month, rates.nat_gateway_gb)
    for _ in by_type.get("aws_eip", ()):
        # An Elastic IP is billed as a public IPv4 address whether or not it is attached.
        lines.add(PUBLIC_IPV4, hours, rates.public_ipv4_hour)
    for balancer in [*by_type.get("aws_lb", ()), *by_type.get("aws_alb", ())]:
        _price_load_balancer(balancer, rates, prices, lines, notes)
    _price_services(
        by_type.get("aws_ecs_service", ()), by_type.get("aws_ecs_task_definition", ()), rates, hours, lines, notes
    )
    for _ in by_type.get("aws_cloudwatch_log_group", ()):
        lines.add(LOG_INGESTION, assumed.log_gb_per_group_month, rates.logs_ingestion_gb)
    for alarm in by_type.get("aws_cloudwatch_metric_alarm", ()):
        metrics, high_resolution = _alarm_metrics(_values(alarm))
        if high_resolution:
            lines.add(ALARMS_HIGH_RESOLUTION, metrics, rates.alarm_high_resolution_metric_month)
        else:
            lines.add(ALARMS_STANDARD, metrics, rates.alarm_standard_metric_month)
    for _ in by_type.get("aws_cloudwatch_dashboard", ()):
        lines.add(DASHBOARDS, 1, rates.dashboard_month)
    for _ in by_type.get("aws_kms_key", ()):
        lines.add(KMS_KEYS, 1, rates.kms_key_month)
    return Estimate(region=region, lines=lines.lines(), priced=True, notes=tuple(notes))


def _price_load_balancer(
    balancer: Mapping[str, Any], rates: RegionPrices, prices: PriceTable, lines: _Lines, notes: list[str]
) -> None:
    values = _values(balancer)
    address = _address(balancer)
    kind = values.get("load_balancer_type") or "application"
    if kind != "application":
        notes.append(f"{address}: a {kind} load balancer is not priced (the table has application load balancers)")
        return
    hours = prices.hours_per_month
    lines.add(ALB_HOURS, hours, rates.alb_hour)
    lines.add(ALB_LCUS, prices.assumptions.alb_lcus_per_hour * hours, rates.alb_lcu_hour)
    if values.get("internal") is True or values.get("ip_address_type") == "dualstack-without-public-ipv4":
        return
    # An internet-facing load balancer holds one public IPv4 address in each of its zones (subnets).
    zones = _zone_count(values)
    if zones is None:
        notes.append(f"{address}: its subnets are not known in this plan, so its public IPv4 addresses are not counted")
    else:
        lines.add(PUBLIC_IPV4, zones * hours, rates.public_ipv4_hour)


def _zone_count(values: Mapping[str, Any]) -> int | None:
    # Unknown subnet ids stay in the plan's list as nulls: the count is still right.
    for key in ("subnets", "subnet_mapping"):
        entries = values.get(key)
        if isinstance(entries, list) and entries:
            return len(entries)
    return None


def _price_services(
    services: Sequence[Mapping[str, Any]],
    task_definitions: Sequence[Mapping[str, Any]],
    rates: RegionPrices,
    hours: float,
    lines: _Lines,
    notes: list[str],
) -> None:
    # Services name their task definition by ARN, unknown in a plan until it is registered; here both
    # are named `<ws>-store2018-<service>`, so the service name is matched to the family.
    families: dict[str, Mapping[str, Any]] = {}
    for task_definition in task_definitions:
        family = _values(task_definition).get("family")
        if isinstance(family, str):
            families.setdefault(family, _values(task_definition))
    for service in services:
        values = _values(service)
        given_name = values.get("name")
        name = given_name if isinstance(given_name, str) else _address(service)
        tasks = _number(values.get("desired_count"))
        if tasks is None:
            notes.append(f"ECS service {name}: its desired count is not known in this plan, so it is not priced")
            continue
        network = _block(values, "network_configuration")
        if network is not None and network.get("assign_public_ip") is True:
            lines.add(PUBLIC_IPV4, tasks * hours, rates.public_ipv4_hour)
        on_demand = 0.0
        for provider, count in _tasks_by_capacity(values, tasks).items():
            if provider == "FARGATE":
                on_demand += count
            elif count > 0:
                notes.append(
                    f"ECS service {name}: {count:g} of its {tasks:g} tasks run on {provider}, "
                    "which is not priced (the table has on-demand Fargate only)"
                )
        if tasks > 0 and on_demand == 0:
            continue  # nothing on on-demand Fargate: the notes above say where the tasks run
        found = families.get(name)
        if found is None:
            notes.append(
                f"ECS service {name}: no task definition of family {name} in the same state, "
                "so its Fargate vCPU and memory are not priced"
            )
            continue
        definition: Mapping[str, Any] = found
        vcpus = _vcpus(definition.get("cpu"))
        memory_gb = _memory_gb(definition.get("memory"))
        if vcpus is None or memory_gb is None:
            notes.append(
                f"ECS service {name}: the task definition's cpu {definition.get('cpu')!r} or memory "
                f"{definition.get('memory')!r} is not known, so its Fargate vCPU and memory are not priced"
            )
            continue
        platform = _block(definition, "runtime_platform") or {}
        system = str(platform.get("operating_system_family") or "LINUX").upper()
        architecture = str(platform.get("cpu_architecture") or "X86_64").upper()
        if system != "LINUX":
            notes.append(f"ECS service {name}: Fargate on {system} is not priced (the table has Linux)")
            continue
        if architecture == "ARM64":
            if rates.fargate_arm_vcpu_hour is None or rates.fargate_arm_gb_hour is None:
                notes.append(f"ECS service {name}: ARM64 Fargate is not priced (the table has no ARM64 rates here)")
                continue
            lines.add(FARGATE_ARM_VCPU, on_demand * vcpus * hours, rates.fargate_arm_vcpu_hour)
            lines.add(FARGATE_ARM_MEMORY, on_demand * memory_gb * hours, rates.fargate_arm_gb_hour)
        else:
            lines.add(FARGATE_VCPU, on_demand * vcpus * hours, rates.fargate_vcpu_hour)
            lines.add(FARGATE_MEMORY, on_demand * memory_gb * hours, rates.fargate_gb_hour)


def _tasks_by_capacity(values: Mapping[str, Any], tasks: float) -> dict[str, float]:
    """Tasks per capacity provider, as ECS places them: each provider's base first, the rest by weight
    (an expected, possibly fractional, count)."""
    strategy = [entry for entry in _blocks(values.get("capacity_provider_strategy")) if entry.get("capacity_provider")]
    if not strategy:
        launch_type = values.get("launch_type")
        # Without a strategy the AWS provider's default launch type is EC2.
        return {launch_type if isinstance(launch_type, str) and launch_type else "EC2 (the default launch type)": tasks}
    placed = {str(entry["capacity_provider"]): 0.0 for entry in strategy}
    remaining = tasks
    for entry in strategy:
        taken = min(_number(entry.get("base")) or 0.0, remaining)
        placed[str(entry["capacity_provider"])] += taken
        remaining -= taken
    weights = [(str(entry["capacity_provider"]), _number(entry.get("weight")) or 0.0) for entry in strategy]
    total_weight = sum(weight for _, weight in weights)
    if remaining > 0 and total_weight > 0:
        for provider, weight in weights:
            placed[provider] += remaining * weight / total_weight
    elif remaining > 0:
        placed["a strategy with no weight"] = remaining
    return placed


def _alarm_metrics(values: Mapping[str, Any]) -> tuple[int, bool]:
    """(metrics billed, high resolution?): a metric-math alarm is billed per metric it reads."""
    queries = _blocks(values.get("metric_query"))
    if queries:
        metrics = [metric for metric in (_block(query, "metric") for query in queries) if metric is not None]
        periods = [p for p in (_number(metric.get("period")) for metric in metrics) if p is not None]
        return max(1, len(metrics)), bool(periods) and min(periods) < STANDARD_ALARM_PERIOD_SECONDS
    period = _number(values.get("period"))
    return 1, period is not None and period < STANDARD_ALARM_PERIOD_SECONDS


def _values(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    values = resource.get("values")
    return values if isinstance(values, Mapping) else {}


def _address(resource: Mapping[str, Any]) -> str:
    return str(resource.get("address") or resource.get("type") or "a resource")


def _blocks(value: Any) -> list[Mapping[str, Any]]:
    """A nested block as the plan gives it (a list of objects) or as the synthesis does (one object)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, Mapping)]
    return []


def _block(values: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    blocks = _blocks(values.get(key))
    return blocks[0] if blocks else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


_VCPU_TEXT = re.compile(r"^\s*([0-9.]+)\s*vcpus?\s*$", re.IGNORECASE)
_GB_TEXT = re.compile(r"^\s*([0-9.]+)\s*gb\s*$", re.IGNORECASE)


def _vcpus(cpu: Any) -> float | None:
    """Task `cpu`: CPU units ("256") or, as ECS also accepts, vCPUs ("0.25 vCPU")."""
    match = _VCPU_TEXT.match(cpu) if isinstance(cpu, str) else None
    if match:
        return _number(match.group(1))
    units = _number(cpu)
    return None if units is None else units / CPU_UNITS_PER_VCPU


def _memory_gb(memory: Any) -> float | None:
    """Task `memory`: MiB ("512") or, as ECS also accepts, GB ("0.5 GB")."""
    match = _GB_TEXT.match(memory) if isinstance(memory, str) else None
    if match:
        return _number(match.group(1))
    mib = _number(memory)
    return None if mib is None else mib / MIB_PER_GIB


# ------------------------------------------------------------------------------------- the change


def cost_change(plan: Mapping[str, Any], region: str, prices: PriceTable) -> CostChange:
    """Price a plan: before is its `prior_state` (none in a new workspace: nothing), after its
    `planned_values` (empty after a destroy)."""
    prior = plan.get("prior_state")
    before_values = prior.get("values") if isinstance(prior, Mapping) else None
    before = estimate(state_resources(before_values), region, prices)
    after = estimate(state_resources(plan.get("planned_values")), region, prices)
    sides: dict[str, list[Line | None]] = {}
    for side, current in enumerate((before, after)):
        for line in current.lines:
            sides.setdefault(line.item, [None, None])[side] = line
    items: list[ItemChange] = []
    for item in sorted(sides, key=lambda name: _RANK.get(name, len(_RANK))):
        old, new = sides[item]
        present = new if new is not None else old
        items.append(
            ItemChange(
                item=item,
                unit=present.unit if present is not None else "",
                before_quantity=old.quantity if old else 0.0,
                after_quantity=new.quantity if new else 0.0,
                before_usd=old.monthly_usd if old else 0.0,
                after_usd=new.monthly_usd if new else 0.0,
            )
        )
    return CostChange(before=before, after=after, items=tuple(items), table=prices)


def _usd(amount: float) -> str:
    return f"{_cents(amount):,.2f}"


def _signed(amount: float) -> str:
    cents = _cents(amount)
    return "0.00" if cents == 0 else f"{cents:+,.2f}"


def _cents(amount: float) -> float:
    # Rounded first, so -0.001 prints as 0.00, not -0.00.
    rounded = round(amount, 2)
    return 0.0 if rounded == 0 else rounded


def _notes(change: CostChange) -> list[str]:
    return list(dict.fromkeys((*change.before.notes, *change.after.notes)))


def markdown(change: CostChange) -> str:
    """The change as Markdown: a table item | before | after | change (USD a month), a total row, what
    the plan holds that is not priced, what the estimate leaves out, and the table's date and source."""
    table = change.table
    if not change.priced:
        covered = ", ".join(sorted(table.regions))
        return (
            f"No prices for region {change.region} in the price table dated {table.as_of} "
            f"(it has {covered}): the cost is not estimated.\n"
        )
    rows = [
        f"Estimated monthly cost in {change.region} (USD, on-demand list prices).",
        "",
        "| Item | Before (USD/month) | After (USD/month) | Change (USD/month) |",
        "|---|---:|---:|---:|",
    ]
    for item in change.items:
        rows.append(f"| {item.item} | {_usd(item.before_usd)} | {_usd(item.after_usd)} | {_signed(item.change_usd)} |")
    before_total = change.before.total or 0.0
    after_total = change.after.total or 0.0
    totals = (_usd(before_total), _usd(after_total), _signed(after_total - before_total))
    rows.append("| **Total** | " + " | ".join(f"**{total}**" for total in totals) + " |")
    rows.append("")
    notes = _notes(change)
    if notes:
        rows.append("Not priced (in the plan, but the table cannot price it):")
        rows.extend(f"- {note}" for note in notes)
        rows.append("")
    assumed = table.assumptions
    rows.append("Not counted: " + " ".join(NOT_COUNTED))
    rows.append("")
    rows.append(
        f"Assumed: {assumed.nat_gb_per_gateway_month:g} GB a month through each NAT gateway, "
        f"{assumed.alb_lcus_per_hour:g} LCU per load balancer, {assumed.log_gb_per_group_month:g} GB of logs "
        f"a month per log group, {table.hours_per_month:g} hours a month."
    )
    rows.append(f"Prices: the table dated {table.as_of}. Source: {table.source}")
    return "\n".join(rows) + "\n"


def as_json(change: CostChange) -> dict[str, Any]:
    """The change as plain data (USD rounded to cents), for the driver's machine-readable report."""
    table = change.table
    total: dict[str, float] | None = None
    if change.before.total is not None and change.after.total is not None:
        total = {
            "before_usd": _cents(change.before.total),
            "after_usd": _cents(change.after.total),
            "change_usd": _cents(change.after.total - change.before.total),
        }
    return {
        "region": change.region,
        "priced": change.priced,
        "currency": table.currency,
        "as_of": table.as_of,
        "source": table.source,
        "hours_per_month": table.hours_per_month,
        "assumptions": dataclasses.asdict(table.assumptions),
        "items": [
            {
                "item": item.item,
                "unit": item.unit,
                "before_quantity": round(item.before_quantity, 4),
                "after_quantity": round(item.after_quantity, 4),
                "before_usd": _cents(item.before_usd),
                "after_usd": _cents(item.after_usd),
                "change_usd": _cents(item.change_usd),
            }
            for item in change.items
        ],
        "total": total,
        "not_priced": _notes(change),
        "not_counted": list(NOT_COUNTED),
    }
