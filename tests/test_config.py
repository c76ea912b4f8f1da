"""Every configuration mistake is refused at synth with the setting, the value, what is allowed and the fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from store2018 import app
from store2018.config import (
    ConfigError,
    EnvironmentSettings,
    NatGatewayMode,
    ProjectSettings,
    StateBackendSettings,
)

PROD = EnvironmentSettings(vpc_cidr="192.168.0.0/16")


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
    ("app port", lambda: ProjectSettings(app_port=70000), "ProjectSettings.app_port = 70000", "1 to 65535"),
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
