"""Mistakes a user makes editing the tables by hand, end to end.

Each case edits a copy of the project the way a user would (constructs/store2018/config.py or
catalog.py), then runs `python main.py` and `cdktf synth` there. Both must fail with a message
that names the setting, the value given, what is allowed and the fix, and leave the copy's
committed `terraform/` byte-identical (hash of every file) with no scratch folder left behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from tfharness import ROOT

CONFIG = "constructs/store2018/config.py"
CATALOG = "constructs/store2018/catalog.py"
NETWORK = "constructs/store2018/network.py"


@dataclass(frozen=True)
class Mistake:
    file: str
    old: str  # must occur exactly once in the file
    new: str
    setting: str  # the message starts with `<setting> = <value>`
    value: str
    allowed: str  # a fragment of what is allowed
    fix: str  # a fragment of the fix


MISTAKES = {
    "malformed cidr": Mistake(CONFIG, 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="172.17.0.0/33"',
                              "ENVIRONMENTS['staging'].vpc_cidr", "'172.17.0.0/33'", "CIDR notation", "10.0.0.0/16"),
    "overlapping cidrs": Mistake(CONFIG, 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="192.168.128.0/17"',
                                 "ENVIRONMENTS['staging'].vpc_cidr", "'192.168.128.0/17'",
                                 "overlaps 192.168.0.0/16, the range of 'prod'", "its own range"),
    "public cidr": Mistake(CONFIG, 'vpc_cidr="172.17.0.0/16"', 'vpc_cidr="8.8.0.0/16"',
                           "ENVIRONMENTS['staging'].vpc_cidr", "'8.8.0.0/16'", "RFC 1918", "private range"),
    "vpc too small": Mistake(CONFIG, 'vpc_cidr="192.168.0.0/16"', 'vpc_cidr="192.168.0.0/24"',
                             "ENVIRONMENTS['prod'].vpc_cidr", "'192.168.0.0/24'", "/16 to /20", "use a /16"),
    "one az": Mistake(CONFIG, "az_count: int = 2", "az_count: int = 1",
                      "ProjectSettings.az_count", "1", "from 2", "use 2"),
    "too many azs": Mistake(CONFIG, "az_count: int = 2", "az_count: int = 7",
                            "ProjectSettings.az_count", "7", "to 6", "use 2"),
    "fargate size": Mistake(CATALOG, 'image="jeremycookdev/accountservice",',
                            'image="jeremycookdev/accountservice", cpu=256, memory_mib=4096,',
                            "SERVICES['account'].memory_mib", "4096", "512 to 2048", "pick one of those sizes"),
    "fargate cpu": Mistake(CATALOG, 'image="jeremycookdev/accountservice",',
                           'image="jeremycookdev/accountservice", cpu=300,',
                           "SERVICES['account'].cpu", "300", "Fargate accepts CPU units", "use 256"),
    "name too long": Mistake(CONFIG, 'project: str = "store2018"', 'project: str = "store2018-shop16"',
                             "ENVIRONMENTS key 'staging' with ProjectSettings.project and SERVICES key",
                             "'staging-store2018-shop16-inventory'", "caps them at 32", "shorten"),
    "duplicate service": Mistake(CATALOG, '("shopping", ServiceSpec(', '("account", ServiceSpec(',
                                 "SERVICES name", "'account'", "each name once", "rename one"),
    "duplicate environment": Mistake(CONFIG, '("staging", EnvironmentSettings(', '("prod", EnvironmentSettings(',
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
    "negative count": Mistake(CONFIG, "tasks=TaskCount(minimum=2, maximum=3)", "tasks=TaskCount(minimum=-1, maximum=3)",
                              "ENVIRONMENTS['staging'].tasks.minimum", "-1", "at least 1", "use 2"),
    "minimum above maximum": Mistake(CONFIG, "tasks=TaskCount(minimum=2, maximum=6)",
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
    "log retention": Mistake(CONFIG, "log_retention_days=30,", "log_retention_days=45,",
                             "ENVIRONMENTS['prod'].log_retention_days", "45", "CloudWatch accepts", "use 30"),
    "flow log retention": Mistake(CONFIG, "flow_log_retention_days=90,", "flow_log_retention_days=0,",
                                  "ENVIRONMENTS['prod'].flow_log_retention_days", "0", "CloudWatch accepts",
                                  "use 30 or 90"),
    "certificate arn": Mistake(CONFIG, 'dns_record_name="store2018",',
                               'dns_record_name="store2018", certificate_arn="arn:aws:acm:us-west-2:123:cert/x",',
                               "ENVIRONMENTS['prod'].certificate_arn", "'arn:aws:acm:us-west-2:123:cert/x'",
                               "an ACM certificate ARN", "aws acm list-certificates"),
    "certificate in another region": Mistake(
        CONFIG, 'dns_record_name="store2018",',
        'dns_record_name="store2018", certificate_arn='
        '"arn:aws:acm:us-east-1:123456789012:certificate/0f3c1e2a-1b2c-4d5e-8f90-123456789abc",',
        "ENVIRONMENTS['prod'].certificate_arn",
        "'arn:aws:acm:us-east-1:123456789012:certificate/0f3c1e2a-1b2c-4d5e-8f90-123456789abc'",
        "the load balancer's region (us-west-2)", "in us-west-2"),
    "hosted zone id": Mistake(CONFIG, 'hosted_zone_id: str = ""', 'hosted_zone_id: str = "zone-123"',
                              "ProjectSettings.hosted_zone_id", "'zone-123'", "a Route 53 hosted zone id",
                              "list-hosted-zones"),
    "account id": Mistake(CONFIG, 'dns_record_name="store2018test",',
                          'dns_record_name="store2018test", allowed_account_ids=("12345",),',
                          "ENVIRONMENTS['staging'].allowed_account_ids", "'12345'", "exactly 12 digits",
                          "get-caller-identity"),
    "account ids without a tuple": Mistake(CONFIG, 'dns_record_name="store2018test",',
                                           'dns_record_name="store2018test", allowed_account_ids=("123456789012"),',
                                           "ENVIRONMENTS['staging'].allowed_account_ids", "'123456789012'",
                                           "expected a tuple of str", "trailing comma"),
    "environment named default": Mistake(CONFIG, '("staging", EnvironmentSettings(',
                                         '("default", EnvironmentSettings(',
                                         "ENVIRONMENTS key", "'default'", "Terraform's implicit workspace", "'dev'"),
    "state bucket": Mistake(CONFIG, 'bucket: str = "store2018-terraform-state"', 'bucket: str = "Store2018_State"',
                            "StateBackendSettings.bucket", "'Store2018_State'", "an S3 bucket name",
                            "name an S3 bucket you own"),
    "region": Mistake(CONFIG, 'region: str = "us-west-2"\n    az_count', 'region: str = "oregon"\n    az_count',
                      "ProjectSettings.region", "'oregon'", "an AWS region name", "the region you deploy to"),
    "duplicate dns record": Mistake(CONFIG, 'dns_record_name="store2018test"', 'dns_record_name="store2018"',
                                    "ENVIRONMENTS['staging'].dns_record_name", "'store2018'",
                                    "unique across environments", "its own record name"),
    "misspelt field": Mistake(CONFIG, " log_retention_days=7,", " log_retension_days=7,",
                              "EnvironmentSettings field", "'log_retension_days'", "it has vpc_cidr, nat_gateway_mode",
                              "correct the spelling"),
    "nat mode as text": Mistake(CONFIG, "nat_gateway_mode=NatGatewayMode.SINGLE", 'nat_gateway_mode="single"',
                                "ENVIRONMENTS['staging'].nat_gateway_mode", "'single'",
                                "one of ['ONE_PER_AZ', 'SINGLE']", "NatGatewayMode.SINGLE"),
}  # fmt: skip


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def project_copy(folder: Path) -> Path:
    """What a user edits and runs: the sources and the committed synthesis; the environments are linked."""
    folder.mkdir(parents=True)
    for name in ("main.py", "cdktf.json", "package.json"):
        shutil.copy2(ROOT / name, folder / name)
    for name in ("constructs", "terraform"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in (".venv", "node_modules"):
        (folder / name).symlink_to(ROOT / name)
    return folder


def edit(project: Path, mistake: Mistake) -> None:
    path = project / mistake.file
    text = path.read_text()
    assert text.count(mistake.old) == 1, f"{mistake.old!r} must occur once in {mistake.file}"
    path.write_text(text.replace(mistake.old, mistake.new))


def command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "TF_CLI_CONFIG"))}
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(CHECKPOINT_DISABLE="1", DISABLE_VERSION_CHECK="1", CI="true")
    return env


RUNNERS: dict[str, list[str]] = {
    "python main.py": [sys.executable, "main.py"],
    "cdktf synth": [str(ROOT / "node_modules" / ".bin" / "cdktf"), "synth"],
}


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_is_refused_clearly_and_writes_nothing(tmp_path: Path, mistake: str, runner: str) -> None:
    case = MISTAKES[mistake]
    project = project_copy(tmp_path / "project")
    before = tree_hash(project / "terraform")
    edit(project, case)

    done = subprocess.run(RUNNERS[runner], cwd=project, env=command_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    output = " ".join((done.stdout + done.stderr).split())  # cdktf re-indents and wraps the app's stderr

    assert done.returncode != 0, output
    assert "Traceback" not in output and "Configuration error:" in output, output
    assert f"{case.setting} = {case.value} is invalid" in output, output
    assert case.allowed in output, output
    assert "Fix:" in output and case.fix in output, output
    assert tree_hash(project / "terraform") == before
    assert [p.name for p in project.iterdir() if p.name.startswith(".terraform.synth-")] == []


def test_there_are_at_least_fifteen_distinct_categories() -> None:
    assert len({case.setting for case in MISTAKES.values()}) >= 15


def test_a_stack_that_breaks_a_rule_is_refused_after_synthesis_and_writes_nothing(tmp_path: Path) -> None:
    """The rules run on the finished synthesis, in the scratch folder: a failure there publishes nothing."""
    project = project_copy(tmp_path / "project")
    before = tree_hash(project / "terraform")
    self_rule = 'description="All traffic between the tasks (service discovery calls)",'
    open_tasks = Mistake(NETWORK, self_rule, f'{self_rule} cidr_ipv4="0.0.0.0/0",', "", "", "", "")
    edit(project, open_tasks)
    for command in RUNNERS.values():
        done = subprocess.run(command, cwd=project, env=command_env(), capture_output=True, text=True, timeout=300)
        output = done.stdout + done.stderr
        assert done.returncode != 0, output
        assert "Synthesis refused" in output and "[tasks-only-from-load-balancer]" in output, output
        assert tree_hash(project / "terraform") == before


def test_a_good_synthesis_replaces_the_files_and_keeps_terraform_run_files(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    stack = project / "terraform" / "stacks" / "store2018"
    (stack / ".terraform").mkdir()
    (stack / ".terraform" / "marker").write_text("terraform init ran here")
    (stack / "cdk.tf.json").write_text("{}")  # stale: a good synthesis rewrites it
    done = subprocess.run(RUNNERS["cdktf synth"], cwd=project, env=command_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (stack / "cdk.tf.json").read_bytes() == (ROOT / "terraform/stacks/store2018/cdk.tf.json").read_bytes()
    assert (stack / ".terraform" / "marker").exists()
