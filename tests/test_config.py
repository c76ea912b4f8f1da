"""Every configuration mistake is refused at synth with the setting, the value, what is allowed and the fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from store2018 import app
from store2018.catalog import SERVICES, ServiceSpec
from store2018.config import (
    CapacityMix,
    ConfigError,
    EnvironmentSettings,
    NatGatewayMode,
    ProjectSettings,
    ServiceOverrides,
    StateBackendSettings,
    TaskCount,
)

PROD = EnvironmentSettings(vpc_cidr="192.168.0.0/16")


def qa(**fields: Any) -> EnvironmentSettings:
    return EnvironmentSettings(vpc_cidr="10.0.0.0/16", **fields)


def catalog(**changes: dict[str, Any]) -> dict[str, ServiceSpec]:
    """The course's catalog with some fields of some entries changed."""
    return {name: replace(spec, **changes.get(name, {})) for name, spec in SERVICES.items()}


def envs(**entries: EnvironmentSettings) -> dict[str, EnvironmentSettings]:
    return {"prod": PROD, **entries}


CASES: list[tuple[str, Callable[[], object], str, str]] = [
    ("bucket uppercase", lambda: StateBackendSettings(bucket="My_Bucket"),
     "StateBackendSettings.bucket = 'My_Bucket'", "lower-case"),
    ("bucket empty", lambda: StateBackendSettings(bucket=""), "StateBackendSettings.bucket = ''", "3 to 63"),
    ("bucket ip", lambda: StateBackendSettings(bucket="192.168.1.1"), "StateBackendSettings.bucket", "not an IP"),
    ("bucket dots", lambda: StateBackendSettings(bucket="a..b"), "StateBackendSettings.bucket = 'a..b'", "no '..'"),
    ("key empty", lambda: StateBackendSettings(key=""), "StateBackendSettings.key = ''", "non-empty"),
    ("key slash", lambda: StateBackendSettings(key="/state"), "StateBackendSettings.key = '/state'", "'/'"),
    ("backend region", lambda: StateBackendSettings(region="oregon"),
     "StateBackendSettings.region = 'oregon'", "us-west-2"),
    ("region", lambda: ProjectSettings(region="US-WEST-2"), "ProjectSettings.region = 'US-WEST-2'", "region name"),
    ("project", lambda: ProjectSettings(project="Store 2018"), "ProjectSettings.project = 'Store 2018'", "lower-case"),
    ("az count low", lambda: ProjectSettings(az_count=1), "ProjectSettings.az_count = 1", "from 2"),
    ("az count high", lambda: ProjectSettings(az_count=7), "ProjectSettings.az_count = 7", "to 6"),
    ("no environments", lambda: ProjectSettings(environments={}), "ENVIRONMENTS = {}", "at least one"),
    ("default env", lambda: ProjectSettings(environments=envs(default=EnvironmentSettings(vpc_cidr="10.0.0.0/16"))),
     "ENVIRONMENTS key = 'default'", "implicit workspace"),
    ("env name", lambda: ProjectSettings(environments=envs(**{"Prod-EU": EnvironmentSettings(vpc_cidr="10.0.0.0/16")})),
     "ENVIRONMENTS key = 'Prod-EU'", "lower-case"),
    ("cidr malformed", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/33"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.0/33'", "CIDR notation"),
    ("cidr host bits", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.1/16"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.1/16'", "no host bits"),
    ("cidr public", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="8.8.0.0/16"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '8.8.0.0/16'", "private IPv4"),
    ("cidr not rfc1918", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="198.18.0.0/16"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '198.18.0.0/16'", "RFC 1918"),
    ("vpc too small", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/24"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.0/24'", "/16 to /20"),
    ("vpc too big", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/8"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.0/8'", "/16 to /20"),
    ("overlap", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="192.168.0.0/17"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '192.168.0.0/17'", "the range of 'prod'"),
    ("nat mode", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/16",
                                                                                 nat_gateway_mode="single"))),  # type: ignore[arg-type]
     "ENVIRONMENTS['qa'].nat_gateway_mode = 'single'", "NatGatewayMode.SINGLE"),
    ("account id", lambda: ProjectSettings(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/16",
                                                                                   allowed_account_ids=("1234",)))),
     "ENVIRONMENTS['qa'].allowed_account_ids = '1234'", "12 digits"),
    ("min above max", lambda: ProjectSettings(environments=envs(qa=qa(tasks=TaskCount(minimum=3, maximum=2)))),
     "ENVIRONMENTS['qa'].tasks.maximum = 2", "no smaller than minimum (3)"),
    ("no tasks", lambda: ProjectSettings(environments=envs(qa=qa(tasks=TaskCount(minimum=0)))),
     "ENVIRONMENTS['qa'].tasks.minimum = 0", "at least 1"),
    ("image tag", lambda: ProjectSettings(environments=envs(qa=qa(image_tag="v1 beta"))),
     "ENVIRONMENTS['qa'].image_tag = 'v1 beta'", "a Docker tag"),
    ("override unknown service",
     lambda: ProjectSettings(environments=envs(qa=qa(services={"payment": ServiceOverrides()}))),
     "ENVIRONMENTS['qa'].services = 'payment'", "name a service of the catalog"),
    ("override tag",
     lambda: ProjectSettings(environments=envs(qa=qa(services={"account": ServiceOverrides(image_tag="")}))),
     "ENVIRONMENTS['qa'].services['account'].image_tag = ''", "a Docker tag"),
    ("spot weight", lambda: ProjectSettings(environments=envs(qa=qa(capacity=CapacityMix(fargate_spot_weight=-1)))),
     "ENVIRONMENTS['qa'].capacity.fargate_spot_weight = -1", "0 to 1000"),
    ("no weight", lambda: ProjectSettings(environments=envs(qa=qa(capacity=CapacityMix(fargate_weight=0)))),
     "ENVIRONMENTS['qa'].capacity.fargate_weight = 0", "at least one weight"),
    ("log retention", lambda: ProjectSettings(environments=envs(qa=qa(log_retention_days=10))),
     "ENVIRONMENTS['qa'].log_retention_days = 10", "CloudWatch accepts 1, 3, 5, 7, 14"),
    ("certificate", lambda: ProjectSettings(environments=envs(qa=qa(certificate_arn="arn:aws:iam::123:cert"))),
     "ENVIRONMENTS['qa'].certificate_arn = 'arn:aws:iam::123:cert'", "ACM certificate ARN"),
    ("dns record", lambda: ProjectSettings(environments=envs(qa=qa(dns_record_name="shop.example.com"))),
     "ENVIRONMENTS['qa'].dns_record_name = 'shop.example.com'", "one DNS label"),
    ("name too long", lambda: ProjectSettings(project="store2018-online", environments=envs(staging=qa())),
     "ENVIRONMENTS key 'staging' with ProjectSettings.project and SERVICES key = 'staging-store2018-online-inventory'",
     "caps them at 32 characters (this one has 34)"),
    ("hosted zone", lambda: ProjectSettings(hosted_zone_id="example.com"),
     "ProjectSettings.hosted_zone_id = 'example.com'", "hosted zone id"),
    ("namespace", lambda: ProjectSettings(discovery_namespace="Microservices"),
     "ProjectSettings.discovery_namespace = 'Microservices'", "two or more lower-case labels"),
    ("cpu", lambda: ProjectSettings(services=catalog(account=dict(cpu=300))),
     "SERVICES['account'].cpu = 300", "Fargate accepts CPU units [256, 512"),
    ("memory", lambda: ProjectSettings(services=catalog(account=dict(cpu=1024, memory_mib=1024))),
     "SERVICES['account'].memory_mib = 1024", "with cpu=1024 Fargate accepts 2048 to 8192 MiB in steps of 1024"),
    ("container port", lambda: ProjectSettings(services=catalog(account=dict(container_port=0))),
     "SERVICES['account'].container_port = 0", "1 to 65535"),
    ("health path", lambda: ProjectSettings(services=catalog(account=dict(health_check_path="api/healthcheck"))),
     "SERVICES['account'].health_check_path = 'api/healthcheck'", "starting with '/'"),
    ("image with tag",
     lambda: ProjectSettings(services=catalog(account=dict(image="jeremycookdev/accountservice:1.0"))),
     "SERVICES['account'].image = 'jeremycookdev/accountservice:1.0'", "without a tag"),
    ("image empty", lambda: ProjectSettings(services=catalog(account=dict(image=""))),
     "SERVICES['account'].image = ''", "image repository"),
    ("discovery name", lambda: ProjectSettings(services=catalog(account=dict(discovery_name="API_Account"))),
     "SERVICES['account'].discovery_name = 'API_Account'", "DNS label"),
    ("duplicate discovery", lambda: ProjectSettings(services=catalog(inventory=dict(discovery_name="api-account"))),
     "SERVICES['inventory'].discovery_name = 'api-account'", "SERVICES['account'] has it too"),
    ("duplicate path", lambda: ProjectSettings(services=catalog(shopping=dict(public_paths=("/api/products*",)))),
     "SERVICES['shopping'].public_paths = '/api/products*'", "SERVICES['inventory'] has it too"),
    ("two default routes", lambda: ProjectSettings(services=catalog(account=dict(default_route=True))),
     "SERVICES[...].default_route = ['account', 'store2018']", "exactly one"),
    ("api variable target",
     lambda: ProjectSettings(services=catalog(store2018=dict(api_base_variables={"X": "store2018"}))),
     "SERVICES['store2018'].api_base_variables['X'] = 'store2018'", "declares an api_base_path"),
    ("service name", lambda: ProjectSettings(services={**SERVICES, "Payment-API": SERVICES["account"]}),
     "SERVICES key = 'Payment-API'", "lower-case"),
]  # fmt: skip


@pytest.mark.parametrize(("build", "setting_and_value", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mistakes_are_refused_with_a_clear_message(
    build: Callable[[], object], setting_and_value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        build()
    message = str(raised.value)
    assert message.startswith(setting_and_value), message
    assert allowed in message
    assert re.search(r"\. Fix: \S", message), "the message must say how to fix it"


def test_the_default_settings_are_valid() -> None:
    settings = ProjectSettings()
    assert settings.environment_names == ["prod", "staging"]
    assert settings.environments["prod"].nat_gateway_mode is NatGatewayMode.ONE_PER_AZ
    assert settings.environments["staging"].nat_gateway_mode is NatGatewayMode.SINGLE


def test_main_reports_a_bad_setting_without_a_traceback_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def bad_settings() -> ProjectSettings:
        return ProjectSettings(region="mars-1")

    monkeypatch.setattr(app, "ProjectSettings", bad_settings)
    monkeypatch.setattr(app, "default_outdir", lambda: str(tmp_path / "out"))
    assert app.main() == 2
    err = capsys.readouterr().err
    assert err.startswith("Configuration error: ProjectSettings.region = 'mars-1' is invalid")
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
