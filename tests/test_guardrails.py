"""Mistakes a user makes editing the settings files by hand.

Every case edits a copy of `environments.py` or `catalog.py` the way a user would and loads it
through `loading.load_and_report`, the function `main.py` (and so `cdktf synth`) calls: one message
with the setting, the value given, what is allowed, the fix, and the file and line; no traceback.
Four categories also run end to end through `python main.py` (two of them through `cdktf synth` too) on a
copy of the project, with a hash of its committed `terraform/` unchanged and no scratch folder left.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import command_env, project_copy, tree_hash

from local.emulated import ROOT
from store2018.loading import CATALOG_FILE, ENVIRONMENTS_FILE, SETTINGS_DIR, load_and_report

ENVIRONMENTS = ENVIRONMENTS_FILE
CATALOG = CATALOG_FILE
NETWORK = "network.py"


@dataclass(frozen=True)
class Mistake:
    file: str  # a file in constructs/store2018/
    old: str  # its first occurrence in the file is replaced
    new: str
    setting: str  # the message starts with `<setting> = <value>`
    value: str
    allowed: str  # a fragment of what is allowed
    fix: str  # a fragment of the fix
    at: str | None = None  # the line the message points at contains this (default: the edited line)


MISTAKES = {
    "malformed cidr": Mistake(ENVIRONMENTS, 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="172.17.0.0/33"',
                              "ENVIRONMENTS['staging'].vpc_cidr", "'172.17.0.0/33'", "CIDR notation", "10.0.0.0/16"),
    "overlapping cidrs": Mistake(ENVIRONMENTS, 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="192.168.128.0/17"',
                                 "ENVIRONMENTS['staging'].vpc_cidr", "'192.168.128.0/17'",
                                 "overlaps 192.168.0.0/16, the range of 'prod'", "its own range"),
    "public cidr": Mistake(ENVIRONMENTS, 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="8.8.0.0/16"',
                           "ENVIRONMENTS['staging'].vpc_cidr", "'8.8.0.0/16'", "RFC 1918", "private range"),
    "vpc too small": Mistake(ENVIRONMENTS, 'vpc_cidr="192.168.0.0/16"', 'vpc_cidr="192.168.0.0/24"',
                             "ENVIRONMENTS['prod'].vpc_cidr", "'192.168.0.0/24'", "/16 to /20", "use a /16"),
    "one az": Mistake(ENVIRONMENTS, "az_count=2,", "az_count=1,", "ProjectSettings.az_count", "1", "from 2",
                      "use 2"),
    "too many azs": Mistake(ENVIRONMENTS, "az_count=2,", "az_count=7,", "ProjectSettings.az_count", "7", "to 6",
                            "use 2"),
    "fargate size": Mistake(CATALOG, 'image="jeremycookdev/accountservice",',
                            'image="jeremycookdev/accountservice", cpu=256, memory_mib=4096,',
                            "SERVICES['account'].memory_mib", "4096", "512 to 2048", "pick one of those sizes"),
    "fargate cpu": Mistake(CATALOG, 'image="jeremycookdev/accountservice",',
                           'image="jeremycookdev/accountservice", cpu=300,',
                           "SERVICES['account'].cpu", "300", "Fargate accepts CPU units", "use 256"),
    "name too long": Mistake(ENVIRONMENTS, ' name="store2018",', ' name="store2018-shop16",',
                             "ENVIRONMENTS key 'staging' with ProjectSettings.name and SERVICES key",
                             "'staging-store2018-shop16-inventory'", "caps them at 32", "shorten",
                             at='("staging", EnvironmentSettings('),
    "duplicate service": Mistake(CATALOG, '("shopping", ServiceSpec(', '("account", ServiceSpec(',
                                 "SERVICES name", "'account'", "each name once", "rename one"),
    "duplicate environment": Mistake(ENVIRONMENTS, '("staging", EnvironmentSettings(',
                                     '("prod", EnvironmentSettings(',
                                     "ENVIRONMENTS name", "'prod'", "each name once", "rename one"),
    "duplicate cloud map name": Mistake(CATALOG, 'discovery_name="api-inventory"', 'discovery_name="api-account"',
                                        "SERVICES['inventory'].discovery_name", "'api-account'",
                                        "unique across the catalog", "its own"),
    "duplicate public path": Mistake(CATALOG, 'public_paths=("/api/cart*",)', 'public_paths=("/api/products*",)',
                                     "SERVICES['shopping'].public_paths", "'/api/products*'",
                                     "unique across the catalog", "its own"),
    "port out of range": Mistake(CATALOG, 'image="jeremycookdev/store2018",',
                                 'image="jeremycookdev/store2018", container_port=70000,',
                                 "SERVICES['store2018'].container_port", "70000", "1 to 65535", "use 80"),
    "port as text": Mistake(CATALOG, 'image="jeremycookdev/store2018",',
                            'image="jeremycookdev/store2018", container_port="80",',
                            "SERVICES['store2018'].container_port", "'80'", "expected int", "e.g. 80"),
    "negative count": Mistake(ENVIRONMENTS, "tasks=TaskCount(minimum=2, maximum=3)",
                              "tasks=TaskCount(minimum=-1, maximum=3)",
                              "ENVIRONMENTS['staging'].tasks.minimum", "-1", "at least 1", "use 2"),
    "minimum above maximum": Mistake(ENVIRONMENTS, "tasks=TaskCount(minimum=2, maximum=6)",
                                     "tasks=TaskCount(minimum=8, maximum=6)",
                                     "ENVIRONMENTS['prod'].tasks.maximum", "6", "no smaller than minimum (8)",
                                     "TaskCount(minimum=8, maximum=16)"),
    "health path without slash": Mistake(CATALOG, 'health_check_path="/healthcheck"',
                                         'health_check_path="healthcheck"',
                                         "SERVICES['store2018'].health_check_path", "'healthcheck'",
                                         "starting with '/'", "'/api/healthcheck'"),
    "empty image": Mistake(CATALOG, 'image="jeremycookdev/store2018"', 'image=""',
                           "SERVICES['store2018'].image", "''", "an image repository", "jeremycookdev/"),
    "image with a tag": Mistake(CATALOG, 'image="jeremycookdev/store2018"', 'image="jeremycookdev/store2018:v2"',
                                "SERVICES['store2018'].image", "'jeremycookdev/store2018:v2'", "without a tag",
                                "jeremycookdev/"),
    "log retention": Mistake(ENVIRONMENTS, " log_retention_days=30,", " log_retention_days=45,",
                             "ENVIRONMENTS['prod'].log_retention_days", "45", "CloudWatch accepts", "use 30"),
    "flow log retention": Mistake(ENVIRONMENTS, "flow_log_retention_days=90,", "flow_log_retention_days=0,",
                                  "ENVIRONMENTS['prod'].flow_log_retention_days", "0", "CloudWatch accepts",
                                  "use 30 or 90"),
    "certificate arn": Mistake(ENVIRONMENTS, 'dns_record_name="store2018",',
                               'dns_record_name="store2018", certificate_arn="arn:aws:acm:us-west-2:123:cert/x",',
                               "ENVIRONMENTS['prod'].certificate_arn", "'arn:aws:acm:us-west-2:123:cert/x'",
                               "an ACM certificate ARN", "aws acm list-certificates"),
    "certificate in another region": Mistake(
        ENVIRONMENTS, 'dns_record_name="store2018",',
        'dns_record_name="store2018", certificate_arn='
        '"arn:aws:acm:us-east-1:123456789012:certificate/0f3c1e2a-1b2c-4d5e-8f90-123456789abc",',
        "ENVIRONMENTS['prod'].certificate_arn",
        "'arn:aws:acm:us-east-1:123456789012:certificate/0f3c1e2a-1b2c-4d5e-8f90-123456789abc'",
        "the load balancer's region (us-west-2)", "in us-west-2"),
    "hosted zone id": Mistake(ENVIRONMENTS, "hosted_zone_id=None,", 'hosted_zone_id="zone-123",',
                              "ProjectSettings.hosted_zone_id", "'zone-123'", "a Route 53 hosted zone id",
                              "list-hosted-zones"),
    "account id": Mistake(ENVIRONMENTS, 'dns_record_name="store2018test",',
                          'dns_record_name="store2018test", allowed_account_ids=("12345",),',
                          "ENVIRONMENTS['staging'].allowed_account_ids", "'12345'", "exactly 12 digits",
                          "get-caller-identity"),
    "account ids without a tuple": Mistake(ENVIRONMENTS, 'dns_record_name="store2018test",',
                                           'dns_record_name="store2018test", allowed_account_ids=("123456789012"),',
                                           "ENVIRONMENTS['staging'].allowed_account_ids", "'123456789012'",
                                           "expected a tuple of str", "trailing comma"),
    "environment named default": Mistake(ENVIRONMENTS, '("staging", EnvironmentSettings(',
                                         '("default", EnvironmentSettings(',
                                         "ENVIRONMENTS key", "'default'", "Terraform's implicit workspace", "'dev'"),
    "state bucket": Mistake(ENVIRONMENTS, 'bucket="store2018-terraform-state",', 'bucket="Store2018_State",',
                            "StateBackendSettings.bucket", "'Store2018_State'", "an S3 bucket name",
                            "name an S3 bucket you own"),
    "region": Mistake(ENVIRONMENTS, 'region="us-west-2",\n        az_count', 'region="oregon",\n        az_count',
                      "ProjectSettings.region", "'oregon'", "an AWS region (botocore", "the region you deploy to"),
    "unknown region": Mistake(ENVIRONMENTS, 'region="us-west-2",\n        az_count',
                              'region="us-west-9",\n        az_count', "ProjectSettings.region", "'us-west-9'",
                              "us-east-1, us-east-2, us-west-1, us-west-2", "did you mean 'us-west-"),
    "token marker": Mistake(CATALOG, "default_route=True,",
                            'default_route=True, environment={"X": "${TfToken[TOKEN.1]}"},',
                            "SERVICES['store2018'].environment['X']", "'${TfToken[TOKEN.1]}'", "token marker",
                            "remove the marker"),
    "health path with a space": Mistake(CATALOG, 'health_check_path="/healthcheck",',
                                        'health_check_path="/health check",',
                                        "SERVICES['store2018'].health_check_path", "'/health check'", "no spaces",
                                        "'/api/healthcheck'"),
    "state key with an interpolation": Mistake(ENVIRONMENTS, 'key="store2018/terraform.tfstate",', 'key="st${x}",',
                                               "StateBackendSettings.key", "'st${x}'", "S3's safe characters",
                                               "store2018/terraform.tfstate"),
    "duplicate dns record": Mistake(ENVIRONMENTS, 'dns_record_name="store2018test"', 'dns_record_name="store2018"',
                                    "ENVIRONMENTS['staging'].dns_record_name", "'store2018'",
                                    "unique across environments", "its own record name"),
    "misspelt field": Mistake(ENVIRONMENTS, " log_retention_days=7,", " log_retension_days=7,",
                              "EnvironmentSettings field", "'log_retension_days'", "it has vpc_cidr, nat_gateway_mode",
                              "did you mean 'log_retention_days'?"),
    "misspelt catalog field": Mistake(CATALOG, 'health_check_path="/healthcheck",', 'health_path="/healthcheck",',
                                      "ServiceSpec field", "'health_path'", "it has image, discovery_name",
                                      "did you mean 'health_check_path'?"),
    "nat mode as text": Mistake(ENVIRONMENTS, "nat_gateway_mode=NatGatewayMode.SINGLE",
                                'nat_gateway_mode="single"', "ENVIRONMENTS['staging'].nat_gateway_mode", "'single'",
                                "one of ['ONE_PER_AZ', 'SINGLE']", "NatGatewayMode.SINGLE"),
    "optional feature as empty text": Mistake(ENVIRONMENTS, "hosted_zone_id=None,", 'hosted_zone_id="",',
                                              "ProjectSettings.hosted_zone_id", "''", "or None for no DNS record",
                                              "list-hosted-zones"),
}  # fmt: skip

# Python's own errors in a settings file: what the message starts with, and its fix.
PYTHON_ERRORS = {
    "syntax error": (ENVIRONMENTS, 'vpc_cidr="172.17.0.0/16",', 'vpc_cidr="172.17.0.0/16"',
                     "SyntaxError: invalid syntax. Perhaps you forgot a comma?", None),
    "indentation": (ENVIRONMENTS, "    return ProjectSettings(", "     return ProjectSettings(",
                    "IndentationError: unexpected indent", None),
    "misspelt name": (ENVIRONMENTS, "tasks=TaskCount(minimum=2, maximum=3)", "tasks=TaskSount(minimum=2, maximum=3)",
                      "NameError: name 'TaskSount' is not defined", "did you mean 'TaskCount'?"),
    "misspelt member": (ENVIRONMENTS, "NatGatewayMode.SINGLE", "NatGatewayMode.SINGEL",
                        "AttributeError: NatGatewayMode has no attribute 'SINGEL'", "did you mean 'SINGLE'?"),
    "positional arguments": (ENVIRONMENTS, "tasks=TaskCount(minimum=2, maximum=6)", "tasks=TaskCount(2, 6)",
                             "TypeError: TaskCount.__init__() takes 1 positional argument but 3 were given", None),
}  # fmt: skip


def settings_copy(folder: Path) -> Path:
    """Copies of the two settings files, as a user's working tree would hold them."""
    folder.mkdir(parents=True)
    for name in (CATALOG_FILE, ENVIRONMENTS_FILE):
        shutil.copy2(SETTINGS_DIR / name, folder / name)
    return folder


def edit(folder: Path, file: str, old: str, new: str) -> int:
    """Replace the first `old` by `new` (entries added later to the tables come after the shipped ones);
    return the line number of the edit."""
    path = folder / file
    text = path.read_text()
    assert old in text, f"{old!r} is not in {file}"
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def line_of(folder: Path, file: str, fragment: str) -> int:
    lines = (folder / file).read_text().splitlines()
    (number,) = [i for i, line in enumerate(lines, 1) if fragment in line]
    return number


def report(folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    """What load_and_report prints for the settings in `folder` (it must refuse them)."""
    assert load_and_report(tmp_path / "terraform", folder) is None
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_is_refused_with_setting_value_allowed_fix_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mistake: str
) -> None:
    case = MISTAKES[mistake]
    folder = settings_copy(tmp_path / "store2018")
    line = edit(folder, case.file, case.old, case.new)
    if case.at is not None:
        line = line_of(folder, case.file, case.at)
    err = report(folder, capsys, tmp_path)
    assert err.startswith(f"Configuration error: {case.setting} = {case.value} is invalid: "), err
    assert case.allowed in err
    assert "Fix:" in err and case.fix in err.split("Fix:", 1)[1], err
    assert f"\n  in {folder / case.file}, line {line}\n" in err, err
    assert err.endswith(f"Nothing was written to {tmp_path / 'terraform'}.\n")
    assert "Traceback" not in err


@pytest.mark.parametrize("error", list(PYTHON_ERRORS))
def test_a_python_error_in_a_settings_file_is_one_message_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], error: str
) -> None:
    file, old, new, starts, fix = PYTHON_ERRORS[error]
    folder = settings_copy(tmp_path / "store2018")
    line = edit(folder, file, old, new)
    err = report(folder, capsys, tmp_path)
    assert err.startswith(f"Configuration error: {starts}"), err
    assert f"\n  in {folder / file}, line {line}" in err, err
    if fix:
        assert f"Fix: {fix}" in err
    assert "Traceback" not in err and err.endswith("Nothing was written to " + str(tmp_path / "terraform") + ".\n")


def test_a_syntax_error_shows_the_line_and_where_in_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = settings_copy(tmp_path / "store2018")
    edit(folder, ENVIRONMENTS, 'vpc_cidr="172.17.0.0/16",', 'vpc_cidr="172.17.0.0/16"')
    err = report(folder, capsys, tmp_path)
    assert ':\n    vpc_cidr="172.17.0.0/16"\n             ^\n' in err, err


def test_a_traceback_is_shown_only_when_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = settings_copy(tmp_path / "store2018")
    edit(folder, ENVIRONMENTS, "az_count=2,", "az_count=1,")
    assert "Traceback" not in report(folder, capsys, tmp_path)
    monkeypatch.setenv("STORE2018_DEBUG", "1")
    err = report(folder, capsys, tmp_path)
    assert err.startswith("Traceback (most recent call last):") and "Configuration error: Project" in err


def test_the_shipped_settings_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_and_report(tmp_path / "terraform", settings_copy(tmp_path / "store2018"))
    assert settings is not None and list(settings.environments)[:2] == ["prod", "staging"]
    assert capsys.readouterr().err == ""


def test_there_are_at_least_fifteen_distinct_categories() -> None:
    assert len({case.setting for case in MISTAKES.values()}) >= 15


# End to end: a copy of the project, as a user runs it.


RUNNERS: dict[str, list[str]] = {
    "python main.py": [sys.executable, "main.py"],
    "cdktf synth": [str(ROOT / "node_modules" / ".bin" / "cdktf"), "synth"],
}
SOURCE = "constructs/store2018"
# The four categories run end to end: a setting, a misspelt field, a syntax error, and a rule that
# only the finished synthesis can break. Each: (file, old, new, what the output must say).
END_TO_END = {
    "setting": (f"{SOURCE}/{ENVIRONMENTS}", 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="192.168.128.0/17"',
                ["Configuration error: ENVIRONMENTS['staging'].vpc_cidr = '192.168.128.0/17' is invalid",
                 "Fix: give each environment its own range", f"in {SOURCE}/{ENVIRONMENTS}, line"]),
    "misspelt field": (f"{SOURCE}/{CATALOG}", 'health_check_path="/healthcheck",', 'health_path="/healthcheck",',
                       ["Configuration error: ServiceSpec field = 'health_path' is invalid",
                        "did you mean 'health_check_path'?", f"in {SOURCE}/{CATALOG}, line"]),
    "syntax error": (f"{SOURCE}/{ENVIRONMENTS}", 'vpc_cidr="172.17.0.0/16",', 'vpc_cidr="172.17.0.0/16"',
                     ["Configuration error: SyntaxError: invalid syntax", f"in {SOURCE}/{ENVIRONMENTS}, line"]),
    "rule broken": (f"{SOURCE}/{NETWORK}", 'f"Port {port} from the other tasks (service discovery calls)",',
                    'f"Port {port} from the other tasks (service discovery calls)", cidr_ipv4="0.0.0.0/0",',
                    ["Synthesis refused", "[tasks-only-from-load-balancer]"]),
}  # fmt: skip


# All four through `python main.py`; through `cdktf synth`, which runs the same main.py and re-logs what it
# prints, one refused setting and one refused synthesis.
RUNS = [(case, "python main.py") for case in END_TO_END] + [("setting", "cdktf synth"), ("rule broken", "cdktf synth")]


@pytest.mark.parametrize(("case", "runner"), RUNS)
def test_a_mistake_end_to_end_is_refused_clearly_and_writes_nothing(tmp_path: Path, case: str, runner: str) -> None:
    file, old, new, expected = END_TO_END[case]
    project = project_copy(tmp_path / "project")
    before = tree_hash(project / "terraform")
    edit(project, file, old, new)

    done = subprocess.run(RUNNERS[runner], cwd=project, env=command_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    output = " ".join((done.stdout + done.stderr).split())  # cdktf re-indents and wraps the app's stderr

    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    for fragment in expected:
        assert " ".join(fragment.split()) in output, output
    assert "Nothing was written to" in output
    assert tree_hash(project / "terraform") == before
    assert [p.name for p in project.iterdir() if p.name.startswith(".terraform.synth-")] == []
