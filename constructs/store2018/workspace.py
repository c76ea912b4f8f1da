"""The typed contract between the environments table and the constructs, and workspace selection.

One synthesised artefact serves every workspace. `EnvironmentValues` declares what each
environment emits: the table is emitted whole as `local.environments`, and `local.environment`
is the entry of the selected workspace (`terraform.workspace`). Constructs read
`WorkspaceSelection.current`, an `EnvironmentValues` whose every leaf is the Terraform expression
for the selected workspace's value (a cdktf token): `workspace.current.vpc_cidr` becomes
`${local.environment.vpc_cidr}`. A misspelt attribute is a mypy error, and constructs never write
`${...}` strings. The leaves are expressions, not values: pass them to resources, never branch on
them in Python.

In a workspace with no entry (including `default`) the lookup falls back to the first entry,
so that `terraform validate` stays green, and the `terraform_data.workspace_guard`
precondition stops every plan with a message that names the workspace and the allowed ones.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from cdktf import DataResource, Fn, Precondition, TerraformResourceLifecycle, Token
from constructs import Construct

from store2018.expressions import named_local
from store2018.loading import ENVIRONMENTS_FILE, SETTINGS_DIR
from store2018.naming import resource_name
from store2018.releases import image_reference
from store2018.settings import EnvironmentSettings, ServiceOverrides, Settings

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class CapacityValues:
    """The capacity-provider strategy's weights (`CapacityMix`)."""

    fargate_base: int
    fargate_weight: int
    fargate_spot_weight: int


@dataclass(frozen=True, kw_only=True)
class ServiceValues:
    """One service in one environment, its overrides applied."""

    min_tasks: int
    max_tasks: int
    image: str  # the container's image: `<repository>@sha256:<digest>` or `<repository>:<tag>`
    target_5xx_per_minute: int
    response_time_percentile: int
    response_time_ms: int
    cpu_alarm_percent: int
    memory_alarm_percent: int
    #: Variable -> the ARN ECS reads its value from, and what the execution role may read and decrypt.
    secrets: Mapping[str, str]
    secret_parameter_arns: tuple[str, ...]
    secret_manager_arns: tuple[str, ...]
    secret_key_arns: tuple[str, ...]
    secret_keys_enabled: bool


@dataclass(frozen=True, kw_only=True)
class EnvironmentValues:
    """What one environment emits into `local.environments`. Optional features are off as `""` with
    an `*_enabled` flag beside them: a resource counted to zero still needs a string there."""

    vpc_cidr: str
    nat_gateway_count: int
    allowed_account_ids: tuple[str, ...]
    alb_deletion_protection: bool
    log_retention_days: int
    flow_log_retention_days: int
    alb_access_logs_bucket: str
    alb_access_logs_enabled: bool
    certificate_arn: str
    https_enabled: bool
    dns_record_name: str
    zone_ids: tuple[str, ...]
    zones_pinned: bool
    alarm_minutes: int
    load_balancer_5xx_per_minute: int
    alarm_email: str
    alarm_email_enabled: bool
    ecs_exec: bool
    wait_for_steady_state: bool
    capacity: CapacityValues
    services: Mapping[str, ServiceValues]

    @classmethod
    def of(cls, name: str, env: EnvironmentSettings, settings: Settings) -> EnvironmentValues:
        def service(service: str) -> ServiceValues:
            overrides = env.services.get(service, ServiceOverrides())
            tasks = overrides.tasks or env.tasks
            alarms = overrides.alarms or settings.services[service].alarms
            secrets = {**settings.services[service].secrets, **overrides.secrets}
            keys = sorted({s.kms_key_arn for s in secrets.values() if s.kms_key_arn})
            return ServiceValues(
                min_tasks=tasks.minimum,
                max_tasks=tasks.maximum,
                image=image_reference(settings.services[service].image, settings.releases[name].images[service]),
                target_5xx_per_minute=alarms.target_5xx_per_minute,
                response_time_percentile=alarms.response_time_percentile,
                response_time_ms=alarms.response_time_ms,
                cpu_alarm_percent=alarms.cpu_percent,
                memory_alarm_percent=alarms.memory_percent,
                secrets={variable: secret.arn for variable, secret in secrets.items()},
                secret_parameter_arns=tuple(sorted({s.arn for s in secrets.values() if s.is_parameter})),
                secret_manager_arns=tuple(sorted({s.arn for s in secrets.values() if not s.is_parameter})),
                secret_key_arns=tuple(keys),
                secret_keys_enabled=bool(keys),
            )

        return cls(
            vpc_cidr=env.vpc_cidr,
            nat_gateway_count=env.nat_gateway_mode.gateway_count(settings.project.az_count),
            allowed_account_ids=env.allowed_account_ids,
            alb_deletion_protection=env.alb_deletion_protection,
            log_retention_days=env.log_retention_days,
            flow_log_retention_days=env.flow_log_retention_days,
            alb_access_logs_bucket=env.alb_access_logs_bucket or "",
            alb_access_logs_enabled=env.alb_access_logs_bucket is not None,
            certificate_arn=env.certificate_arn or "",
            https_enabled=env.certificate_arn is not None,
            dns_record_name=env.record_name(name, settings.project.name),
            zone_ids=env.zone_ids,
            zones_pinned=bool(env.zone_ids),
            alarm_minutes=env.alerting.evaluation_minutes,
            load_balancer_5xx_per_minute=env.alerting.load_balancer_5xx_per_minute,
            alarm_email=env.alerting.email or "",
            alarm_email_enabled=env.alerting.email is not None,
            ecs_exec=env.ecs_exec,
            wait_for_steady_state=env.wait_for_steady_state,
            capacity=CapacityValues(
                fargate_base=env.capacity.fargate_base,
                fargate_weight=env.capacity.fargate_weight,
                fargate_spot_weight=env.capacity.fargate_spot_weight,
            ),
            services={name: service(name) for name in settings.services},
        )


def to_terraform(values: Any) -> Any:
    """An `EnvironmentValues` (or any part of one) as plain JSON data."""
    if dataclasses.is_dataclass(values) and not isinstance(values, type):
        return {f.name: to_terraform(getattr(values, f.name)) for f in dataclasses.fields(values)}
    if isinstance(values, Mapping):
        return {key: to_terraform(value) for key, value in values.items()}
    if isinstance(values, tuple):
        return [to_terraform(value) for value in values]
    return values


def select(cls: type[T], expression: Any, example: T) -> T:
    """An instance of `cls` whose every leaf is `expression`'s attribute of that name, as a token of the
    field's type (mappings take their keys from `example`, since every environment has the same keys)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        hint, value = hints[f.name], Fn.lookup(expression, f.name)
        origin = typing.get_origin(hint)
        if dataclasses.is_dataclass(hint):
            fields[f.name] = select(hint, value, getattr(example, f.name))  # type: ignore[arg-type]
        elif origin is Mapping and typing.get_args(hint)[1] is str:
            fields[f.name] = {key: Token.as_string(Fn.lookup(value, key)) for key in getattr(example, f.name)}
        elif origin is Mapping:
            (item,) = typing.get_args(hint)[1:]
            entries = getattr(example, f.name)
            fields[f.name] = {key: select(item, Fn.lookup(value, key), entries[key]) for key in entries}
        elif origin is tuple:
            fields[f.name] = Token.as_list(value)
        elif hint is str:
            fields[f.name] = Token.as_string(value)
        elif hint is int:
            fields[f.name] = Token.as_number(value)
        elif hint is bool:
            fields[f.name] = Token.as_any(value)
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: no token for {hint!r}")
    return cls(**fields)


class WorkspaceSelection(Construct):
    """Emits the environments table and selects the current workspace's entry (`current`)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        tables = {name: EnvironmentValues.of(name, env, settings) for name, env in settings.environments.items()}
        names = list(tables)
        self._project = settings.project.name

        table = named_local(self, "environments", {name: to_terraform(v) for name, v in tables.items()})
        workspace = named_local(self, "workspace", "${terraform.workspace}")
        # Falls back to a known entry so that `validate` works in any workspace; the guard refuses the plan.
        selected = named_local(
            self, "environment", Fn.lookup(table.as_any_map, workspace.as_string, Fn.lookup(table.as_any_map, names[0]))
        )
        #: Every environment's values, as plain Python (what the table emits): for choices made at synth.
        self.tables: dict[str, EnvironmentValues] = tables
        #: The selected workspace's name, as a Terraform expression.
        self.name: str = workspace.as_string
        #: The selected workspace's values, each a Terraform expression.
        self.current: EnvironmentValues = select(EnvironmentValues, selected.as_any_map, tables[names[0]])

        settings_file = (SETTINGS_DIR / ENVIRONMENTS_FILE).relative_to(SETTINGS_DIR.parents[1])
        guard = DataResource(
            self,
            "guard",
            lifecycle=TerraformResourceLifecycle(
                precondition=[
                    Precondition(
                        condition=Fn.contains(Fn.keys(table.as_any_map), workspace.as_string),
                        error_message=(
                            f'Workspace "{self.name}" has no entry in the environments table '
                            f"({settings_file}). Allowed workspaces: {', '.join(names)}. Select one with "
                            f"`terraform workspace select -or-create {names[0]}`, or add an entry to the table."
                        ),
                    )
                ]
            ),
        )
        guard.override_logical_id("workspace_guard")

    def resource_name(self, *parts: str) -> str:
        """The name of a cloud resource: `<workspace>-<project>-<parts...>`, e.g. `prod-store2018-vpc`."""
        return resource_name(self.name, self._project, *parts)
