"""Every setting of the project, typed and validated at synth.

This module is the one place to edit: the state backend, the provider region, the
network layout and the table of environments (one entry per Terraform workspace).
Each value is checked when the settings are built; a mistake raises `ConfigError`
with the setting, the value given, what is allowed and how to fix it.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NoReturn

# AWS has no region with more than six availability zones usable by one account.
MAX_AZ_COUNT = 6
# Subnets are cut with cidrsubnet(vpc, SUBNET_NEWBITS, i); AWS subnets are /16 to /28.
SUBNET_NEWBITS = 8
SMALLEST_SUBNET_PREFIX = 28
LARGEST_VPC_PREFIX = 16
RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


class ConfigError(ValueError):
    """A setting is invalid. The message names it, the value, what is allowed and the fix."""


def fail(setting: str, value: object, allowed: str, fix: str) -> NoReturn:
    raise ConfigError(f"{setting} = {value!r} is invalid: {allowed}. Fix: {fix}")


def _check_region(setting: str, region: str) -> None:
    if not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d", region):
        fail(
            setting,
            region,
            "expected an AWS region name such as 'us-west-2' or 'eu-central-1'",
            f"set {setting} to the region you deploy to",
        )


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
        b = self.bucket
        rule = (
            "3 to 63 characters of lower-case letters, digits, dots and hyphens, starting and "
            "ending with a letter or digit, no '..', not an IP address, no 'xn--' prefix or "
            "'-s3alias' suffix"
        )
        if (
            not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", b)
            or ".." in b
            or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", b)
            or b.startswith("xn--")
            or b.endswith("-s3alias")
        ):
            fail(
                "StateBackendSettings.bucket",
                b,
                rule,
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


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """What differs between workspaces. Every field is emitted into Terraform and
    selected there with `terraform.workspace` (see `workspace.WorkspaceSelection`)."""

    vpc_cidr: str
    nat_gateway_mode: NatGatewayMode = NatGatewayMode.ONE_PER_AZ
    # When non-empty, the AWS provider refuses to run against any other account.
    allowed_account_ids: tuple[str, ...] = ()

    def validate(self, name: str) -> None:
        where = f"ENVIRONMENTS[{name!r}]"
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

    def to_terraform(self, az_count: int) -> dict[str, Any]:
        """The entry as emitted into `local.environments`; keys are what constructs read."""
        return {
            "vpc_cidr": self.vpc_cidr,
            "nat_gateway_count": self.nat_gateway_mode.gateway_count(az_count),
            "allowed_account_ids": list(self.allowed_account_ids),
        }


# The environments table: one entry per Terraform workspace. Course defaults for the CIDRs.
ENVIRONMENTS: Mapping[str, EnvironmentSettings] = MappingProxyType(
    {
        "prod": EnvironmentSettings(vpc_cidr="192.168.0.0/16", nat_gateway_mode=NatGatewayMode.ONE_PER_AZ),
        "staging": EnvironmentSettings(vpc_cidr="172.17.0.0/16", nat_gateway_mode=NatGatewayMode.SINGLE),
    }
)


@dataclass(frozen=True, kw_only=True)
class ProjectSettings:
    """The whole project's configuration. What is here is the same in every workspace,
    except `environments`, which holds what differs."""

    project: str = "store2018"
    region: str = "us-west-2"
    az_count: int = 2
    app_port: int = 80
    state_backend: StateBackendSettings = field(default_factory=StateBackendSettings)
    environments: Mapping[str, EnvironmentSettings] = field(default_factory=lambda: ENVIRONMENTS)

    def __post_init__(self) -> None:
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
        if isinstance(self.app_port, bool) or not isinstance(self.app_port, int) or not 1 <= self.app_port <= 65535:
            fail("ProjectSettings.app_port", self.app_port, "a TCP port from 1 to 65535", "use 80")
        self._validate_environments()

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
            env.validate(name)
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

    @property
    def environment_names(self) -> list[str]:
        return list(self.environments)

    def environments_to_terraform(self) -> dict[str, dict[str, Any]]:
        return {name: env.to_terraform(self.az_count) for name, env in self.environments.items()}
