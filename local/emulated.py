"""Run the real Terraform and AWS provider offline, against the emulator on 127.0.0.1.

Used by the local deploy (`local/deploy.py`), the tests and the checkov
gate. The synthesised stack is copied into a working folder outside `terraform/`. An override
file beside it swaps the provider version for the mirrored one and points every AWS endpoint
at the emulator; the S3 backend is pointed there with `-backend-config` at init (the bootstrap
stack's local backend is pointed at the working folder). The synthesised `cdk.tf.json` itself
is never changed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SYNTH_STACK_DIR = ROOT / "terraform" / "stacks" / "store2018"
BOOTSTRAP_STACK_DIR = ROOT / "terraform" / "stacks" / "bootstrap"
PLUGIN_DIR = Path(os.environ.get("STORE2018_TF_PLUGIN_DIR", "/opt/tf-plugins"))
AWS_MIRROR = PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws"
MOTO_SERVER = ROOT / ".venv" / "bin" / "moto_server"  # installed with moto[server]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
EMULATOR = ROOT / "local" / "emulator.py"
# Every AWS service the stack (data sources included) may call. None may reach a real endpoint.
EMULATED_SERVICES = (
    "applicationautoscaling", "cloudwatch", "cloudwatchlogs", "ec2", "ecs", "elbv2", "iam", "route53",
    "s3", "servicediscovery", "sts",
)  # fmt: skip
MOCK_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Hard cap on the emulator's life, so that a crashed test run cannot leave it running.
MOTO_MAX_SECONDS = 1800


def read_synthesis(stack_dir: Path) -> dict[str, Any]:
    """A synthesised stack's Terraform JSON (`<stack_dir>/cdk.tf.json`)."""
    document: dict[str, Any] = json.loads((stack_dir / "cdk.tf.json").read_text())
    return document


def mirrored_aws_version() -> str | None:
    versions = sorted(p.name for p in AWS_MIRROR.glob("*") if p.is_dir()) if AWS_MIRROR.is_dir() else []
    return versions[-1] if versions else None


def missing_tools() -> str | None:
    """Why the Terraform-level tests cannot run here, or None if they can."""
    if shutil.which("terraform") is None:
        return "terraform is not on PATH (install Terraform >= 1.10: https://developer.hashicorp.com/terraform/install)"
    if mirrored_aws_version() is None:
        return (
            f"no hashicorp/aws provider mirror under {PLUGIN_DIR} (set STORE2018_TF_PLUGIN_DIR to a folder made "
            "with `terraform providers mirror <dir>` in terraform/stacks/store2018 while online)"
        )
    if not MOTO_SERVER.exists():
        return f"{MOTO_SERVER} is missing (run `make setup`)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class EmulatorEndpoint:
    """An emulator reachable at `url` (the local deploy's is started once and kept running)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str) -> Any:
        import boto3
        import urllib3

        # Unverified TLS to 127.0.0.1 is the point here: no warning on every call.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

        return boto3.client(
            service,
            endpoint_url=self.url,
            verify=False,  # the emulator's certificate is self-signed (local/emulator.py)
            region_name="us-west-2",
            aws_access_key_id=MOCK_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=MOCK_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


class MotoServer(EmulatorEndpoint):
    """The emulator (`local/emulator.py`: moto with its gaps filled) on 127.0.0.1 and a free port,
    stopped by `stop()`, after `idle_minutes` without a request, or after MOTO_MAX_SECONDS."""

    def __init__(
        self,
        log_path: Path,
        *,
        idle_minutes: float = 15,
        max_minutes: float = MOTO_MAX_SECONDS / 60,
        detached: bool = False,
    ) -> None:
        self.port = free_port()
        super().__init__(f"https://127.0.0.1:{self.port}")
        self._log = log_path.open("a")
        self._process = subprocess.Popen(
            [str(VENV_PYTHON), str(EMULATOR), "--port", str(self.port), "--idle-minutes", str(idle_minutes),
             "--max-minutes", str(max_minutes)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=detached,  # a detached emulator outlives the command that started it
        )  # fmt: skip
        self.pid = self._process.pid
        self._wait_until_up(log_path)

    def _wait_until_up(self, log_path: Path) -> None:
        deadline = time.monotonic() + 60
        while not emulator_answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start; see {log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()


def emulator_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2, context=ssl._create_unverified_context()):
            return True
    except OSError:
        return False


@dataclass
class TerraformResult:
    returncode: int
    output: str


class TerraformWorkdir:
    """A copy of a synthesised stack, initialised against the emulator.

    `create_state_bucket`: create the S3 backend's bucket directly (tests that only plan); the
    local deploy creates it with the bootstrap stack instead. A stack with a local backend (the
    bootstrap) keeps its state in the working folder. An existing folder is refreshed and
    re-initialised, so a second run converges on the same state.
    """

    def __init__(
        self,
        stack_dir: Path,
        workdir: Path,
        moto: EmulatorEndpoint,
        *,
        create_state_bucket: bool = True,
        extra_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.path = workdir
        self.moto = moto
        self.synthesised = read_synthesis(stack_dir)
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(stack_dir / "cdk.tf.json", workdir / "cdk.tf.json")
        region = self.synthesised["provider"]["aws"][0]["region"]
        override: dict[str, Any] = {
            "terraform": {
                "required_providers": {"aws": {"source": "hashicorp/aws", "version": mirrored_aws_version()}}
            },
            "provider": {
                "aws": [
                    {
                        "region": region,
                        "skip_credentials_validation": True,
                        "skip_metadata_api_check": True,
                        "insecure": True,  # the emulator's self-signed certificate
                        "endpoints": [{service: moto.url for service in EMULATED_SERVICES}],
                    }
                ]
            },
        }
        backends = self.synthesised["terraform"]["backend"]
        if "local" in backends:
            override["terraform"]["backend"] = {"local": {"path": "terraform.tfstate"}}
        (workdir / "emulator_override.tf.json").write_text(json.dumps(override, indent=2))
        for name, document in (extra_overrides or {}).items():
            (workdir / f"{name}_override.tf.json").write_text(json.dumps(document, indent=2))
        rc = workdir / "terraformrc"
        rc.write_text("")  # no user CLI configuration, no warning about a missing one
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))},
            **MOCK_CREDENTIALS,
            "AWS_EC2_METADATA_DISABLED": "true",
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        if "local" in backends:
            self.run("init", "-reconfigure", f"-plugin-dir={PLUGIN_DIR}")
            return
        backend = backends["s3"]
        self.state_bucket: str = backend["bucket"]
        self.state_key: str = backend["key"]
        self.workspace_key_prefix: str = backend["workspace_key_prefix"]
        if create_state_bucket:
            s3 = moto.client("s3")
            if self.state_bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                s3.create_bucket(Bucket=self.state_bucket, CreateBucketConfiguration={"LocationConstraint": region})
        self.run(
            "init",
            "-reconfigure",
            f"-plugin-dir={PLUGIN_DIR}",
            f'-backend-config=endpoints={{s3="{moto.url}"}}',
            "-backend-config=use_path_style=true",
            "-backend-config=insecure=true",
            "-backend-config=skip_credentials_validation=true",
            "-backend-config=skip_requesting_account_id=true",
            "-backend-config=skip_metadata_api_check=true",
        )

    def command(self, *args: str) -> list[str]:
        words = 2 if args[0] in ("workspace", "state") else 1  # `-no-color` goes right after the (sub)command
        return ["terraform", *args[:words], "-no-color", *args[words:]]

    def start(self, *args: str, workspace: str | None = None) -> subprocess.Popen[str]:
        """Terraform in the background (output on a pipe), e.g. for the fault tests."""
        env = {**self.env, **({"TF_WORKSPACE": workspace} if workspace else {})}
        return subprocess.Popen(self.command(*args), cwd=self.path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 600,
        echo: Callable[[str], None] | None = None,
        workspace: str | None = None,
    ) -> TerraformResult:
        """Run Terraform to the end; `echo` receives each output line as it comes (progress). `workspace`
        (TF_WORKSPACE) overrides the selected one, so that runs in several workspaces can share the folder."""
        if echo is None:
            env = {**self.env, **({"TF_WORKSPACE": workspace} if workspace else {})}
            proc = subprocess.run(
                self.command(*args), cwd=self.path, env=env, capture_output=True, text=True, timeout=timeout
            )
            result = TerraformResult(proc.returncode, proc.stdout + proc.stderr)
        else:
            lines = []
            with self.start(*args, workspace=workspace) as streaming:
                assert streaming.stdout is not None
                for line in streaming.stdout:
                    lines.append(line)
                    echo(line.rstrip("\n"))
                returncode = streaming.wait(timeout=timeout)
            result = TerraformResult(returncode, "".join(lines))
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.output}")
        return result

    def select_workspace(self, workspace: str) -> None:
        self.run("workspace", "select", "-or-create", workspace)

    def plan(self, workspace: str) -> TerraformResult:
        self.select_workspace(workspace)
        return self.run("plan", "-input=false", "-lock-timeout=60s", f"-out={workspace}.tfplan", check=False)

    def plan_json(self, workspace: str) -> dict[str, Any]:
        result = self.plan(workspace)
        if result.returncode != 0:
            raise AssertionError(f"plan in {workspace} failed:\n{result.output}")
        shown = self.run("show", "-json", f"{workspace}.tfplan")
        plan: dict[str, Any] = json.loads(shown.output)
        return plan


def planned_resources(plan: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """The planned values of every instance of a resource type (counted instances included)."""
    found: list[dict[str, Any]] = [
        r for r in plan["planned_values"]["root_module"].get("resources", []) if r["type"] == resource_type
    ]
    return found
