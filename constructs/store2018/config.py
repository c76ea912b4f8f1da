"""Every setting of the project, typed and validated at synth.

This module and `catalog.py` (the services) are the places to edit: the state backend, the
provider region, the network layout, the load balancer's options and the table of
environments (one entry per Terraform workspace).
Each value is checked when the settings are built; a mistake raises `ConfigError`
with the setting, the value given, what is allowed and how to fix it.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from store2018.catalog import SERVICES, ServiceSpec
from store2018.errors import ConfigError as ConfigError  # re-exported: callers catch it from here
from store2018.errors import check_types, fail, table

# AWS has no region with more than six availability zones usable by one account.
MAX_AZ_COUNT = 6
# Subnets are cut with cidrsubnet(vpc, SUBNET_NEWBITS, i); AWS subnets are /16 to /28.
SUBNET_NEWBITS = 8
SMALLEST_SUBNET_PREFIX = 28
LARGEST_VPC_PREFIX = 16
# ECS runs at most this many tasks per service.
MAX_TASKS_PER_SERVICE = 5000
# AWS caps load balancer and target group names at 32 characters.
NAME_LIMIT = 32
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _check_region(setting: str, region: str) -> None:
    if not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d", region):
        fail(
            setting,
            region,
            "expected an AWS region name such as 'us-west-2' or 'eu-central-1'",
            f"set {setting} to the region you deploy to",
        )


def _check_bucket_name(setting: str, bucket: str, fix: str) -> None:
    rule = (
        "an S3 bucket name: 3 to 63 characters of lower-case letters, digits, dots and hyphens, starting and "
        "ending with a letter or digit, no '..', not an IP address, no 'xn--' prefix or '-s3alias' suffix"
    )
    if (
        not isinstance(bucket, str)
        or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket)
        or ".." in bucket
        or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket)
        or bucket.startswith("xn--")
        or bucket.endswith("-s3alias")
    ):
        fail(setting, bucket, rule, fix)


class NatGatewayMode(enum.Enum):
    """How the private subnets reach the internet."""

    ONE_PER_AZ = "one_per_az"  # a NAT gateway in every AZ: an AZ outage cuts no other AZ off
    SINGLE = "single"  # one shared NAT gateway: cheaper, one AZ is a single point of failure

    def gateway_count(self, az_count: int) -> int:
        return az_count if self is NatGatewayMode.ONE_PER_AZ else 1


@dataclass(frozen=True, kw_only=True)
class StateBackendSettings:
    """Where Terraform keeps its state: an S3 bucket that must exist before `terraform init`.

    Non-default workspaces keep their state at `<workspace_key_prefix>/<workspace>/<key>`,
    e.g. `env:/prod/store2018/terraform.tfstate`.
    """

    bucket: str = "store2018-terraform-state"
    key: str = "store2018/terraform.tfstate"
    region: str = "us-west-2"
    workspace_key_prefix: str = "env:"

    def __post_init__(self) -> None:
        check_types(self, "StateBackendSettings")
        _check_bucket_name(
            "StateBackendSettings.bucket",
            self.bucket,
            "name an S3 bucket you own (or pass -backend-config=bucket=... at terraform init)",
        )
        if not self.key or self.key.startswith("/") or self.key.endswith("/"):
            fail(
                "StateBackendSettings.key",
                self.key,
                "a non-empty S3 object key that neither starts nor ends with '/'",
                "use a path such as 'store2018/terraform.tfstate'",
            )
        _check_region("StateBackendSettings.region", self.region)
        if not self.workspace_key_prefix or "/" in self.workspace_key_prefix:
            fail(
                "StateBackendSettings.workspace_key_prefix",
                self.workspace_key_prefix,
                "a non-empty prefix without '/'",
                "keep Terraform's default 'env:'",
            )


# Retention periods CloudWatch Logs accepts (0, "never expire", is refused on purpose).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)  # fmt: skip


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_image_tag(setting: str, tag: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag):
        fail(setting, tag, "a Docker tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
             "use e.g. 'latest' or '1.4.2'")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TaskCount:
    """Bounds of a service's task count. Desired count starts at `minimum`; autoscaling owns it after."""

    minimum: int = 2
    maximum: int = 4

    def validate(self, setting: str) -> None:
        check_types(self, setting)
        if not _is_count(self.minimum) or self.minimum < 1:
            fail(f"{setting}.minimum", self.minimum, "an integer of at least 1", "use 2, the course's task count")
        if self.maximum > MAX_TASKS_PER_SERVICE:
            fail(
                f"{setting}.maximum",
                self.maximum,
                f"at most {MAX_TASKS_PER_SERVICE} (ECS's tasks-per-service quota)",
                "use a realistic bound such as 6",
            )
        if not _is_count(self.maximum) or self.maximum < self.minimum:
            fail(
                f"{setting}.maximum",
                self.maximum,
                f"an integer no smaller than minimum ({self.minimum})",
                f"use TaskCount(minimum={self.minimum}, maximum={max(self.minimum, 1) * 2})",
            )


@dataclass(frozen=True, kw_only=True)
class ServiceOverrides:
    """Per-environment exceptions for one service; None keeps the environment's value."""

    tasks: TaskCount | None = None
    image_tag: str | None = None


@dataclass(frozen=True, kw_only=True)
class CapacityMix:
    """How tasks are spread over Fargate capacity providers (a capacity-provider strategy).

    `fargate_base` tasks always run on FARGATE; the rest are split by weight. FARGATE_SPOT
    is cheaper and can be interrupted; it is off by default (weight 0)."""

    fargate_base: int = 1
    fargate_weight: int = 1
    fargate_spot_weight: int = 0

    def validate(self, setting: str) -> None:
        check_types(self, setting)
        for attribute, limit in (("fargate_base", 100_000), ("fargate_weight", 1000), ("fargate_spot_weight", 1000)):
            value = getattr(self, attribute)
            if not _is_count(value) or value > limit:
                fail(f"{setting}.{attribute}", value, f"an integer from 0 to {limit}", "use the defaults 1, 1, 0")
        if self.fargate_weight == 0 and self.fargate_spot_weight == 0:
            fail(
                f"{setting}.fargate_weight",
                0,
                "at least one weight above 0 (ECS needs somewhere to place tasks beyond the base)",
                "use fargate_weight=1",
            )


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """What differs between workspaces. Every field is emitted into Terraform and
    selected there with `terraform.workspace` (see `workspace.WorkspaceSelection`)."""

    vpc_cidr: str
    nat_gateway_mode: NatGatewayMode = NatGatewayMode.ONE_PER_AZ
    # When non-empty, the AWS provider refuses to run against any other account.
    allowed_account_ids: tuple[str, ...] = ()
    #: Tasks per service, unless `services` overrides them: the desired count starts at the minimum
    #: and target tracking moves it between the bounds.
    tasks: TaskCount = field(default_factory=TaskCount)
    #: The image tag every service runs, unless `services` overrides it. `latest` is mutable: pin a tag in prod.
    image_tag: str = "latest"
    #: Per-service exceptions, keyed by catalog name.
    services: Mapping[str, ServiceOverrides] = field(default_factory=dict)
    capacity: CapacityMix = field(default_factory=CapacityMix)
    alb_deletion_protection: bool = True
    #: Days CloudWatch keeps the services' logs (a value CloudWatch accepts; never "forever").
    log_retention_days: int = 30
    #: Days CloudWatch keeps the VPC's flow logs (every accepted and rejected connection).
    flow_log_retention_days: int = 90
    #: An existing S3 bucket for the load balancer's access logs; '' keeps them off.
    alb_access_logs_bucket: str = ""
    #: An ACM certificate in the region: adds an HTTPS listener and turns port 80 into a redirect.
    certificate_arn: str = ""
    #: The alias record in `ProjectSettings.hosted_zone_id` (when set); default `<project>-<environment>`.
    dns_record_name: str = ""

    def validate(self, name: str, services: Mapping[str, ServiceSpec] = SERVICES, region: str = "") -> None:
        where = f"ENVIRONMENTS[{name!r}]"
        check_types(self, where)
        try:
            net = ipaddress.ip_network(self.vpc_cidr, strict=True)
        except ValueError:
            fail(
                f"{where}.vpc_cidr",
                self.vpc_cidr,
                "expected an IPv4 network in CIDR notation with no host bits set",
                "use a private range such as '10.0.0.0/16'",
            )
        if not isinstance(net, ipaddress.IPv4Network) or not any(net.subnet_of(r) for r in RFC1918):
            fail(
                f"{where}.vpc_cidr",
                self.vpc_cidr,
                "the VPC must use a private IPv4 range (RFC 1918: 10/8, 172.16/12, 192.168/16)",
                "use a private range such as '10.0.0.0/16'",
            )
        if not LARGEST_VPC_PREFIX <= net.prefixlen <= SMALLEST_SUBNET_PREFIX - SUBNET_NEWBITS:
            fail(
                f"{where}.vpc_cidr",
                self.vpc_cidr,
                f"the prefix must be /{LARGEST_VPC_PREFIX} to "
                f"/{SMALLEST_SUBNET_PREFIX - SUBNET_NEWBITS}: AWS VPCs are at most /16 and subnets "
                f"(the VPC prefix + {SUBNET_NEWBITS}) at least /{SMALLEST_SUBNET_PREFIX}",
                "use a /16 such as '10.0.0.0/16'",
            )
        if not isinstance(self.nat_gateway_mode, NatGatewayMode):
            fail(
                f"{where}.nat_gateway_mode",
                self.nat_gateway_mode,
                f"one of {[m.name for m in NatGatewayMode]}",
                "use NatGatewayMode.ONE_PER_AZ or NatGatewayMode.SINGLE",
            )
        for account in self.allowed_account_ids:
            if not re.fullmatch(r"\d{12}", account):
                fail(
                    f"{where}.allowed_account_ids",
                    account,
                    "an AWS account id is exactly 12 digits",
                    "copy it from `aws sts get-caller-identity`, or leave the tuple empty",
                )

        self.tasks.validate(f"{where}.tasks")
        _check_image_tag(f"{where}.image_tag", self.image_tag)
        for service, overrides in self.services.items():
            if service not in services:
                fail(
                    f"{where}.services",
                    service,
                    f"overrides name a service of the catalog ({', '.join(services)})",
                    "fix the name or remove the entry",
                )
            if not isinstance(overrides, ServiceOverrides):
                fail(f"{where}.services[{service!r}]", overrides, "a ServiceOverrides(...)",
                     "write ServiceOverrides(tasks=TaskCount(...), image_tag=...)")  # fmt: skip
            check_types(overrides, f"{where}.services[{service!r}]")
            if overrides.tasks is not None:
                overrides.tasks.validate(f"{where}.services[{service!r}].tasks")
            if overrides.image_tag is not None:
                _check_image_tag(f"{where}.services[{service!r}].image_tag", overrides.image_tag)
        self.capacity.validate(f"{where}.capacity")
        if not isinstance(self.alb_deletion_protection, bool):
            fail(f"{where}.alb_deletion_protection", self.alb_deletion_protection, "True or False", "use True in prod")
        for attribute in ("log_retention_days", "flow_log_retention_days"):
            days = getattr(self, attribute)
            if isinstance(days, bool) or days not in LOG_RETENTION_DAYS:
                fail(
                    f"{where}.{attribute}",
                    days,
                    f"CloudWatch accepts {', '.join(map(str, LOG_RETENTION_DAYS))} days",
                    "use 30 or 90 (7 for a short-lived environment)",
                )
        if self.alb_access_logs_bucket:
            _check_bucket_name(
                f"{where}.alb_access_logs_bucket",
                self.alb_access_logs_bucket,
                "name an existing bucket in the region whose policy lets the load balancer write, or use ''",
            )
        if self.certificate_arn and not re.fullmatch(
            r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}", self.certificate_arn
        ):
            fail(
                f"{where}.certificate_arn",
                self.certificate_arn,
                "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>), or '' for HTTP only",
                "copy the ARN from the ACM console or `aws acm list-certificates`",
            )
        if self.certificate_arn and region and self.certificate_arn.split(":")[3] != region:
            fail(
                f"{where}.certificate_arn",
                self.certificate_arn,
                f"a certificate in the load balancer's region ({region}); ACM certificates are regional",
                f"request or import the certificate in {region}",
            )
        if self.dns_record_name and not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", self.dns_record_name):
            fail(
                f"{where}.dns_record_name",
                self.dns_record_name,
                "one DNS label: lower-case letters, digits and inner hyphens, at most 63 characters",
                "use e.g. 'store2018test'",
            )

    def to_terraform(
        self, *, name: str, project: str, az_count: int, services: Mapping[str, ServiceSpec]
    ) -> dict[str, Any]:
        """The entry as emitted into `local.environments`; keys are what constructs read."""
        per_service = {}
        for service in services:
            overrides = self.services.get(service, ServiceOverrides())
            tasks = overrides.tasks or self.tasks
            per_service[service] = {
                "min_tasks": tasks.minimum,
                "max_tasks": tasks.maximum,
                "image_tag": overrides.image_tag or self.image_tag,
            }
        return {
            "vpc_cidr": self.vpc_cidr,
            "nat_gateway_count": self.nat_gateway_mode.gateway_count(az_count),
            "allowed_account_ids": list(self.allowed_account_ids),
            "alb_deletion_protection": self.alb_deletion_protection,
            "log_retention_days": self.log_retention_days,
            "flow_log_retention_days": self.flow_log_retention_days,
            "alb_access_logs_bucket": self.alb_access_logs_bucket,
            "alb_access_logs_enabled": bool(self.alb_access_logs_bucket),
            "certificate_arn": self.certificate_arn,
            "https_enabled": bool(self.certificate_arn),
            "dns_record_name": self.dns_record_name or f"{project}-{name}",
            "capacity": {
                "fargate_base": self.capacity.fargate_base,
                "fargate_weight": self.capacity.fargate_weight,
                "fargate_spot_weight": self.capacity.fargate_spot_weight,
            },
            "services": per_service,
        }


# The environments table: one `(name, EnvironmentSettings(...))` pair per Terraform workspace (a name
# given twice is refused). The course's CIDRs, task count and DNS names.
ENVIRONMENTS: Mapping[str, EnvironmentSettings] = table(
    "ENVIRONMENTS",
    ("prod", EnvironmentSettings(
        vpc_cidr="192.168.0.0/16",
        nat_gateway_mode=NatGatewayMode.ONE_PER_AZ,
        tasks=TaskCount(minimum=2, maximum=6),
        alb_deletion_protection=True,
        log_retention_days=30,
        flow_log_retention_days=90,
        dns_record_name="store2018",
    )),
    ("staging", EnvironmentSettings(
        vpc_cidr="172.17.0.0/16",
        nat_gateway_mode=NatGatewayMode.SINGLE,
        tasks=TaskCount(minimum=2, maximum=3),
        alb_deletion_protection=False,  # staging is torn down and rebuilt freely
        log_retention_days=7,
        flow_log_retention_days=7,
        dns_record_name="store2018test",
    )),
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ProjectSettings:
    """The whole project's configuration. What is here is the same in every workspace,
    except `environments`, which holds what differs."""

    project: str = "store2018"
    region: str = "us-west-2"
    az_count: int = 2
    state_backend: StateBackendSettings = field(default_factory=StateBackendSettings)
    environments: Mapping[str, EnvironmentSettings] = field(default_factory=lambda: ENVIRONMENTS)
    #: The service catalog (`catalog.SERVICES`).
    services: Mapping[str, ServiceSpec] = field(default_factory=lambda: SERVICES)
    #: Cloud Map private DNS namespace the services find each other in.
    discovery_namespace: str = "microservices.private"
    #: Publish the APIs' `public_paths` on the load balancer (the front end's browser page calls them).
    #: False: only the front end is reachable from the internet; the APIs stay private.
    expose_api_paths: bool = True
    #: A public Route 53 hosted zone for the environments' alias records; '' creates no record.
    hosted_zone_id: str = ""

    def __post_init__(self) -> None:
        check_types(self, "ProjectSettings", skip=("environments", "services"))
        if not re.fullmatch(r"[a-z][a-z0-9-]{1,15}", self.project):
            fail(
                "ProjectSettings.project",
                self.project,
                "2 to 16 lower-case letters, digits or hyphens, starting with a letter "
                "(it prefixes resource names, which AWS caps at 32 characters for load balancers)",
                "use a short name such as 'store2018'",
            )
        _check_region("ProjectSettings.region", self.region)
        if (
            isinstance(self.az_count, bool)
            or not isinstance(self.az_count, int)
            or not 2 <= self.az_count <= MAX_AZ_COUNT
        ):
            fail(
                "ProjectSettings.az_count",
                self.az_count,
                f"an integer from 2 (a load balancer needs two AZs) to {MAX_AZ_COUNT}",
                "use 2, the course's layout",
            )
        if not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", self.discovery_namespace):
            fail(
                "ProjectSettings.discovery_namespace",
                self.discovery_namespace,
                "a DNS name of two or more lower-case labels",
                "use 'microservices.private'",
            )
        if self.hosted_zone_id and not re.fullmatch(r"Z[A-Z0-9]{1,31}", self.hosted_zone_id):
            fail(
                "ProjectSettings.hosted_zone_id",
                self.hosted_zone_id,
                "a Route 53 hosted zone id such as 'Z0123456789ABCDEFGHIJ', or '' for no DNS record",
                "copy the id from `aws route53 list-hosted-zones`",
            )
        self._validate_services()
        self._validate_environments()

    def _validate_services(self) -> None:
        services = self.services
        if not services:
            fail("SERVICES", dict(services), "at least one service", "declare the course's four services")
        for name, spec in services.items():
            if not re.fullmatch(r"[a-z][a-z0-9]{1,14}", name):
                fail(
                    "SERVICES key",
                    name,
                    "2 to 15 lower-case letters or digits, starting with a letter (it names the service's resources)",
                    "use e.g. 'payment'",
                )
            if not isinstance(spec, ServiceSpec):
                fail(f"SERVICES[{name!r}]", spec, "a ServiceSpec(...)", "declare it with ServiceSpec(image=..., ...)")
            spec.validate(name)
            for variable, target in spec.api_base_variables.items():
                if target not in services or not services[target].api_base_path:
                    fail(
                        f"SERVICES[{name!r}].api_base_variables[{variable!r}]",
                        target,
                        "the catalog name of a service that declares an api_base_path",
                        f"use one of {[n for n, s in services.items() if s.api_base_path]}",
                    )
        defaults = [name for name, spec in services.items() if spec.default_route]
        if len(defaults) != 1:
            fail(
                "SERVICES[...].default_route",
                defaults,
                "exactly one service is the load balancer's default route",
                "set default_route=True on the web front end only",
            )
        for attribute in ("discovery_name", "public_paths"):
            seen: dict[str, str] = {}
            for name, spec in services.items():
                values = getattr(spec, attribute)
                for value in values if isinstance(values, tuple) else (values,):
                    if value in seen:
                        fail(
                            f"SERVICES[{name!r}].{attribute}",
                            value,
                            f"unique across the catalog (SERVICES[{seen[value]!r}] has it too)",
                            "give each service its own",
                        )
                    seen[value] = name

    def _validate_environments(self) -> None:
        if not self.environments:
            fail(
                "ENVIRONMENTS",
                dict(self.environments),
                "at least one environment",
                "declare 'prod' and 'staging' entries",
            )
        for name, env in self.environments.items():
            if name == "default":
                fail(
                    "ENVIRONMENTS key",
                    name,
                    "'default' is Terraform's implicit workspace and is refused on purpose, so that "
                    "nobody deploys by accident",
                    "name the environment after its purpose, e.g. 'dev'",
                )
            if not re.fullmatch(r"[a-z][a-z0-9]{1,9}", name):
                fail(
                    "ENVIRONMENTS key",
                    name,
                    "2 to 10 lower-case letters or digits, starting with a letter (it becomes the "
                    "Terraform workspace and prefixes every resource name)",
                    "use a name such as 'staging'",
                )
            if not isinstance(env, EnvironmentSettings):
                fail(
                    f"ENVIRONMENTS[{name!r}]",
                    env,
                    "an EnvironmentSettings(...)",
                    "declare the entry with EnvironmentSettings(vpc_cidr=...)",
                )
            env.validate(name, self.services, self.region)
            self._check_name_lengths(name)
        seen: dict[str, ipaddress.IPv4Network] = {}
        for name, env in self.environments.items():
            net = ipaddress.IPv4Network(env.vpc_cidr)
            for other, other_net in seen.items():
                if net.overlaps(other_net):
                    fail(
                        f"ENVIRONMENTS[{name!r}].vpc_cidr",
                        env.vpc_cidr,
                        f"environments must not overlap (it overlaps {other_net}, the range of {other!r}), "
                        "so that they can be peered or reached over one VPN later",
                        "give each environment its own range",
                    )
            seen[name] = net

        records: dict[str, str] = {}
        for name, env in self.environments.items():
            record = env.dns_record_name or f"{self.project}-{name}"
            if record in records:
                fail(
                    f"ENVIRONMENTS[{name!r}].dns_record_name",
                    record,
                    f"unique across environments (ENVIRONMENTS[{records[record]!r}] uses it too): both "
                    "would claim one DNS record",
                    "give each environment its own record name",
                )
            records[record] = name

    @property
    def environment_names(self) -> list[str]:
        return list(self.environments)

    def _check_name_lengths(self, environment: str) -> None:
        """Load balancer and target group names carry the workspace and are capped at 32 characters."""
        longest = max((n for n, s in self.services.items() if s.behind_load_balancer), key=len)
        name = f"{environment}-{self.project}-{longest}"
        if len(name) > NAME_LIMIT:
            fail(
                f"ENVIRONMENTS key {environment!r} with ProjectSettings.project and SERVICES key",
                name,
                f"target group names are '<environment>-<project>-<service>' and AWS caps them at {NAME_LIMIT} "
                f"characters (this one has {len(name)})",
                "shorten the environment, project or service name",
            )

    @property
    def exposed_services(self) -> dict[str, ServiceSpec]:
        """Services the load balancer forwards to: the default route, plus the APIs when published."""
        return {
            name: spec
            for name, spec in self.services.items()
            if spec.default_route or (self.expose_api_paths and spec.public_paths)
        }

    def environments_to_terraform(self) -> dict[str, dict[str, Any]]:
        return {
            name: env.to_terraform(name=name, project=self.project, az_count=self.az_count, services=self.services)
            for name, env in self.environments.items()
        }
