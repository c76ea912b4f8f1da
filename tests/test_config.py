"""The settings' checks, one by one, on settings built in code. The mistakes a user makes in the settings
files, and Python's own errors there, are in `test_guardrails.py` (through the load-and-report function)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import SETTINGS, settings_with

from local.emulated import ROOT
from store2018.settings import (
    AlarmThresholds,
    Alerting,
    CapacityMix,
    ConfigError,
    ContainerHealthCheck,
    EnvironmentSettings,
    NatGatewayMode,
    Secret,
    ServiceOverrides,
    ServiceSpec,
    StateBackendSettings,
)

PROD = EnvironmentSettings(vpc_cidr="192.168.0.0/16")


def qa(**fields: Any) -> EnvironmentSettings:
    return EnvironmentSettings(vpc_cidr="10.0.0.0/16", **fields)


def catalog(**changes: dict[str, Any]) -> dict[str, ServiceSpec]:
    """The course's catalog with some fields of some entries changed."""
    return {name: replace(spec, **changes.get(name, {})) for name, spec in SETTINGS.services.items()}


def backend(**fields: str) -> StateBackendSettings:
    return replace(SETTINGS.project.state_backend, **fields)


def envs(**entries: EnvironmentSettings) -> dict[str, EnvironmentSettings]:
    return {"prod": PROD, **entries}


CASES: list[tuple[str, Callable[[], object], str, str]] = [
    ("bucket empty", lambda: backend(bucket=""), "StateBackendSettings.bucket = ''", "3 to 63"),
    ("bucket ip", lambda: backend(bucket="192.168.1.1"), "StateBackendSettings.bucket", "not an IP"),
    ("bucket dots", lambda: backend(bucket="a..b"), "StateBackendSettings.bucket = 'a..b'", "no '..'"),
    ("key empty", lambda: backend(key=""), "StateBackendSettings.key = ''", "1 to 1000"),
    ("key slash", lambda: backend(key="/state"), "StateBackendSettings.key = '/state'", "'/'"),
    ("backend region", lambda: backend(region="oregon"),
     "StateBackendSettings.region = 'oregon'", "us-west-2"),
    ("project", lambda: settings_with(name="Store 2018"), "ProjectSettings.name = 'Store 2018'", "lower-case"),
    ("no environments", lambda: settings_with(environments={}), "ENVIRONMENTS = {}", "at least one"),
    ("env name", lambda: settings_with(environments=envs(**{"Prod-EU": EnvironmentSettings(vpc_cidr="10.0.0.0/16")})),
     "ENVIRONMENTS key = 'Prod-EU'", "lower-case"),
    ("cidr host bits", lambda: settings_with(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.1/16"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.1/16'", "no host bits"),
    ("cidr not rfc1918", lambda: settings_with(environments=envs(qa=EnvironmentSettings(vpc_cidr="198.18.0.0/16"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '198.18.0.0/16'", "RFC 1918"),
    ("vpc too big", lambda: settings_with(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/8"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.0/8'", "/16 to /20"),
    ("override unknown service",
     lambda: settings_with(environments=envs(qa=qa(services={"payment": ServiceOverrides()}))),
     "ENVIRONMENTS['qa'].services = 'payment'", "name a service of the catalog"),
    ("spot weight", lambda: settings_with(environments=envs(qa=qa(capacity=CapacityMix(fargate_spot_weight=-1)))),
     "ENVIRONMENTS['qa'].capacity.fargate_spot_weight = -1", "0 to 1000"),
    ("no weight", lambda: settings_with(environments=envs(qa=qa(capacity=CapacityMix(fargate_weight=0)))),
     "ENVIRONMENTS['qa'].capacity.fargate_weight = 0", "at least one weight"),
    ("dns record", lambda: settings_with(environments=envs(qa=qa(dns_record_name="shop.example.com"))),
     "ENVIRONMENTS['qa'].dns_record_name = 'shop.example.com'", "one DNS label"),
    ("namespace", lambda: settings_with(discovery_namespace="Microservices"),
     "ProjectSettings.discovery_namespace = 'Microservices'", "two or more lower-case labels"),
    ("discovery name", lambda: settings_with(services=catalog(account=dict(discovery_name="API_Account"))),
     "SERVICES['account'].discovery_name = 'API_Account'", "DNS label"),
    ("two default routes", lambda: settings_with(services=catalog(account=dict(default_route=True))),
     "SERVICES[...].default_route = ['account', 'store2018']", "exactly one"),
    ("api variable target",
     lambda: settings_with(services=catalog(store2018=dict(api_base_variables={"X": "store2018"}))),
     "SERVICES['store2018'].api_base_variables['X'] = 'store2018'", "declares an api_base_path"),
    ("service name", lambda: settings_with(services={**SETTINGS.services, "Payment-API": SETTINGS.services["account"]}),
     "SERVICES key = 'Payment-API'", "lower-case"),
    ("region of another partition", lambda: settings_with(region="cn-north-1"),
     "ProjectSettings.region = 'cn-north-1'", "in another partition"),
    ("region too new for the tools", lambda: settings_with(region="ap-east-2"),
     "ProjectSettings.region = 'ap-east-2'", "newer than them"),
    ("backend region of another partition", lambda: backend(region="us-gov-west-1"),
     "StateBackendSettings.region = 'us-gov-west-1'", "in another partition"),
    ("key with an empty segment", lambda: backend(key="a//b"), "StateBackendSettings.key = 'a//b'", "no '//'"),
    ("key too long", lambda: backend(key="k" * 1001), "StateBackendSettings.key = 'kkk", "1 to 1000"),
    ("cidr as a netmask",
     lambda: settings_with(environments=envs(qa=EnvironmentSettings(vpc_cidr="10.0.0.0/255.255.0.0"))),
     "ENVIRONMENTS['qa'].vpc_cidr = '10.0.0.0/255.255.0.0'", "CIDR notation"),
    ("project name ending in a hyphen", lambda: settings_with(name="store-"), "ProjectSettings.name = 'store-'",
     "not ending with a hyphen"),
    ("environment named internal", lambda: settings_with(environments=envs(internal=qa())),
     "ENVIRONMENTS key = 'internal'", "may not begin with 'internal-'"),
    ("environment named sg", lambda: settings_with(environments=envs(sg=qa())),
     "ENVIRONMENTS key = 'sg'", "may not begin with 'sg-'"),
    ("account id in other digits",
     lambda: settings_with(environments=envs(qa=qa(allowed_account_ids=("١٢٣٤٥٦٧٨٩٠١٢",)))),
     "ENVIRONMENTS['qa'].allowed_account_ids = '١٢٣٤٥٦٧٨٩٠١٢'", "12 digits"),
    ("path pattern with a parenthesis",
     lambda: settings_with(services=catalog(account=dict(public_paths=("/api(x)",)))),
     "SERVICES['account'].public_paths = '/api(x)'", "_-.$/~'@:+&*?"),
    # Operations: alarms, secrets, health checks.
    ("a password in plain environment", lambda: settings_with(services=catalog(account=dict(
        environment={"DB_PASSWORD": "hunter2"}))), "SERVICES['account'].environment = 'DB_PASSWORD'", "*PASSWORD*"),
    ("an api key in plain environment", lambda: settings_with(services=catalog(account=dict(
        environment={"stripe_api_key": "x"}))), "SERVICES['account'].environment = 'stripe_api_key'", "*KEY*"),
    ("a secret by name", lambda: settings_with(services=catalog(account=dict(secrets={"DB_PASSWORD": Secret(
        arn="arn:aws:secretsmanager:us-west-2:123456789012:secret:store2018/db")}))),
     "SERVICES['account'].secrets['DB_PASSWORD'].arn = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:store2018"
     "/db'", "six random characters"),
    ("a secret in another region", lambda: settings_with(services=catalog(account=dict(secrets={"DB_PASSWORD": Secret(
        arn=PARAMETER.replace("us-west-2", "eu-west-1"))}))),
     "SERVICES['account'].secrets['DB_PASSWORD'].arn = 'arn:aws:ssm:eu-west-1:", "provider's region (us-west-2)"),
    ("a token url among the api base variables", lambda: settings_with(services=catalog(store2018=dict(
        api_base_variables={"TOKEN_SERVICE_API_BASE": "account"}))),
     "SERVICES['store2018'].api_base_variables = 'TOKEN_SERVICE_API_BASE'", "*TOKEN*"),
    ("a secret by alias key", lambda: settings_with(services=catalog(account=dict(secrets={"DB_PASSWORD": Secret(
        arn=PARAMETER, kms_key_arn="alias/store2018")}))),
     "SERVICES['account'].secrets['DB_PASSWORD'].kms_key_arn = 'alias/store2018'", "not an alias"),
    ("a secret also plain", lambda: settings_with(services=catalog(account=dict(environment={"DB": "x"},
        secrets={"DB": Secret(arn=PARAMETER)}))), "SERVICES['account'].secrets = ['DB']", "not also set"),
    ("an override of an undeclared secret", lambda: settings_with(environments=envs(qa=qa(services={
        "account": ServiceOverrides(secrets={"DB_PASSWORD": Secret(arn=PARAMETER)})}))),
     "ENVIRONMENTS['qa'].services['account'].secrets = 'DB_PASSWORD'", "declare it in the catalog"),
    ("an override of another kind", lambda: settings_with(services=catalog(account=dict(secrets={
        "DB_PASSWORD": Secret(arn=PARAMETER)})), environments=envs(qa=qa(services={"account": ServiceOverrides(
        secrets={"DB_PASSWORD": Secret(arn=SECRET_ARN)})}))),
     "ENVIRONMENTS['qa'].services['account'].secrets['DB_PASSWORD'].arn", "the same kind"),
    ("a percentile CloudWatch lacks", lambda: settings_with(services=catalog(account=dict(
        alarms=AlarmThresholds(response_time_percentile=97)))),
     "SERVICES['account'].alarms.response_time_percentile = 97", "one of 50, 90, 95, 99"),
    ("no minute to evaluate", lambda: settings_with(environments=envs(qa=qa(alerting=Alerting(evaluation_minutes=0)))),
     "ENVIRONMENTS['qa'].alerting.evaluation_minutes = 0", "from 1 to 60"),
    ("an e-mail with a name", lambda: settings_with(environments=envs(qa=qa(alerting=Alerting(
        email="On Call <oncall@example.com>")))), "ENVIRONMENTS['qa'].alerting.email", "e-mail address"),
    ("a health check on another host", lambda: settings_with(services=catalog(store2018=dict(
        container_health_check=ContainerHealthCheck(command=("CMD-SHELL", "curl -f http://example.com/ || exit 1"))))),
     "SERVICES['store2018'].container_health_check.command", "only its own container"),
    ("a health check on another service", lambda: settings_with(services=catalog(store2018=dict(
        container_health_check=ContainerHealthCheck(command=("CMD", "/bin/probe", "api-account"))))),
     "SERVICES['store2018'].container_health_check.command", "not another service (api-account)"),
    ("a health check without a form", lambda: settings_with(services=catalog(account=dict(
        container_health_check=ContainerHealthCheck(command=("curl localhost",))))),
     "SERVICES['account'].container_health_check.command", "('CMD-SHELL'"),
    ("a health check timeout beyond its interval", lambda: settings_with(services=catalog(account=dict(
        container_health_check=ContainerHealthCheck(command=("CMD", "/check"), interval_seconds=5,
                                                    timeout_seconds=5)))),
     "SERVICES['account'].container_health_check.timeout_seconds = 5", "less than interval_seconds"),
    ("a health check retrying too often", lambda: settings_with(services=catalog(account=dict(
        container_health_check=ContainerHealthCheck(command=("CMD", "/check"), retries=11)))),
     "SERVICES['account'].container_health_check.retries = 11", "from 1 to 10"),
]  # fmt: skip

PARAMETER = "arn:aws:ssm:us-west-2:123456789012:parameter/store2018/db-password"
SECRET_ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:store2018/db-AbCdEf"


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


def test_the_shipped_settings_are_valid() -> None:
    assert list(SETTINGS.environments)[:2] == ["prod", "staging"]
    assert SETTINGS.environments["prod"].nat_gateway_mode is NatGatewayMode.ONE_PER_AZ
    assert SETTINGS.environments["staging"].nat_gateway_mode is NatGatewayMode.SINGLE


def test_optional_features_are_none_when_off() -> None:
    assert SETTINGS.project.hosted_zone_id is None
    for env in SETTINGS.environments.values():
        assert (env.certificate_arn, env.alb_access_logs_bucket) == (None, None)
    assert SETTINGS.services["store2018"].api_base_path is None


def test_a_mistake_points_at_the_line_that_built_the_entry() -> None:
    with pytest.raises(ConfigError) as raised:
        settings_with(environments={"prod": EnvironmentSettings(vpc_cidr="10.0.0.0/33")})
    assert raised.value.origin is not None
    file, line = raised.value.origin
    assert file == __file__
    assert 'EnvironmentSettings(vpc_cidr="10.0.0.0/33")' in Path(file).read_text().splitlines()[line - 1]


def test_loading_the_settings_starts_no_toolchain() -> None:
    """The settings, the catalog and the load-and-report function import nothing of cdktf or jsii."""
    probe = (
        "import sys; sys.path.insert(0, 'constructs'); "
        "from store2018.loading import load_settings; load_settings(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'cdktf', 'jsii', 'constructs', 'toolchain'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_shipped_state_bucket_name_is_a_warning_until_changed() -> None:
    warning, *tags = SETTINGS.warnings()
    assert len(tags) == len(SETTINGS.environments)  # the shipped manifests run tags (test_releases.py)
    assert warning.startswith("StateBackendSettings.bucket = 'store2018-terraform-state' is the name this project")
    assert "Fix: set a name of your own" in warning
    own = settings_with(state_backend=replace(SETTINGS.project.state_backend, bucket="acme-store2018-state"))
    assert own.warnings() == tags


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"writable_paths": ("/tmp",)}, "writable paths only with read_only_root_filesystem=True"),
        ({"read_only_root_filesystem": True, "writable_paths": ("tmp",)}, "an absolute directory path"),
        ({"read_only_root_filesystem": True, "writable_paths": ("/var/../etc",)}, "no '.' or '..' segment"),
        ({"read_only_root_filesystem": True, "writable_paths": ("/tmp/",)}, "no trailing '/'"),
        ({"read_only_root_filesystem": True, "writable_paths": ("/tmp", "/tmp")}, "each path once"),
    ],
)
def test_writable_paths_are_checked(changes: dict[str, Any], message: str) -> None:
    spec = replace(SETTINGS.services["account"], **changes)
    with pytest.raises(ConfigError, match=r"SERVICES\['account'\]\.writable_paths") as refused:
        settings_with(services={**SETTINGS.services, "account": spec})
    assert message in str(refused.value)
