"""Run the real Terraform and AWS provider offline, against the emulator on 127.0.0.1.

Used by the local deploy (`local/deploy.py`), the tests and the checkov gate. The synthesised
stack is copied into a working folder outside `terraform/`. An override file beside it carries
everything that keeps Terraform on the emulator: the mirrored provider version, every AWS endpoint
and the backend's pointed at the emulator, and the run's credentials in the provider and backend
configuration themselves (an SDK reads an exported AWS_PROFILE before credentials in the
environment). Terraform runs with a dead proxy (`DEAD_PROXY`) for everything but loopback, so a
call that escapes the emulator fails at once instead of reaching AWS. The synthesised
`cdk.tf.json` itself is never changed.

Override files live only as long as their run: `TerraformWorkdir` is a context manager that removes
the ones it wrote, `overriding()` scopes an extra one (lifted protections) to a block, and one found
in a folder when a run starts (left by a run that was killed) is moved aside and reported, never
applied.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.emulator import READY_PATH, ready_proof

ROOT = Path(__file__).resolve().parents[1]
SYNTH_STACK_DIR = ROOT / "terraform" / "stacks" / "store2018"
BOOTSTRAP_STACK_DIR = ROOT / "terraform" / "stacks" / "bootstrap"
PLUGIN_DIR = Path(os.environ.get("STORE2018_TF_PLUGIN_DIR", "/opt/tf-plugins"))
AWS_MIRROR = PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws"
MOTO_SERVER = ROOT / ".venv" / "bin" / "moto_server"  # installed with moto[server]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
EMULATOR = ROOT / "local" / "emulator.py"
EMULATOR_ACCOUNT = "123456789012"  # moto's default account id
# Every AWS service the stack (data sources included) may call. None may reach a real endpoint.
EMULATED_SERVICES = (
    "applicationautoscaling", "cloudwatch", "cloudwatchlogs", "ec2", "ecs", "elbv2", "iam", "route53",
    "kms", "s3", "servicediscovery", "sns", "sts",
)  # fmt: skip
# The provider endpoint each resource type and data source of the synthesis calls, by exact type
# name; None: computed by the provider itself, no call. A type not listed here fails
# tests/test_emulator.py, so a new one cannot fall through to a real endpoint unnoticed.
_EC2_TYPES = (
    "aws_availability_zones", "aws_default_security_group", "aws_eip", "aws_flow_log", "aws_internet_gateway",
    "aws_nat_gateway", "aws_route", "aws_route_table", "aws_route_table_association", "aws_security_group",
    "aws_subnet", "aws_vpc", "aws_vpc_security_group_egress_rule", "aws_vpc_security_group_ingress_rule",
)  # fmt: skip
ENDPOINT_OF_TYPE: dict[str, str | None] = {
    **dict.fromkeys(_EC2_TYPES, "ec2"),
    **dict.fromkeys(("aws_appautoscaling_policy", "aws_appautoscaling_target"), "applicationautoscaling"),
    "aws_caller_identity": "sts",
    "aws_cloudwatch_log_group": "cloudwatchlogs",
    **dict.fromkeys(("aws_cloudwatch_dashboard", "aws_cloudwatch_metric_alarm"), "cloudwatch"),
    **dict.fromkeys(("aws_sns_topic", "aws_sns_topic_policy", "aws_sns_topic_subscription"), "sns"),
    **dict.fromkeys(
        ("aws_ecs_cluster", "aws_ecs_cluster_capacity_providers", "aws_ecs_service", "aws_ecs_task_definition"), "ecs"
    ),
    **dict.fromkeys(("aws_iam_role", "aws_iam_role_policy"), "iam"),
    "aws_iam_policy_document": None,
    **dict.fromkeys(("aws_kms_alias", "aws_kms_key"), "kms"),
    **dict.fromkeys(("aws_lb", "aws_lb_listener", "aws_lb_listener_rule", "aws_lb_target_group"), "elbv2"),
    "aws_route53_record": "route53",
    **dict.fromkeys(
        (
            "aws_s3_bucket",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_versioning",
        ),
        "s3",
    ),
    **dict.fromkeys(
        ("aws_service_discovery_private_dns_namespace", "aws_service_discovery_service"), "servicediscovery"
    ),
}
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


def endpoint_of(resource_type: str) -> str | None:
    """The provider endpoint a resource type or data source calls (ENDPOINT_OF_TYPE); KeyError if unknown."""
    return ENDPOINT_OF_TYPE[resource_type]


def terraform_command(*args: str) -> list[str]:
    """`terraform <args>` with `-no-color` right after the (sub)command."""
    words = 2 if args[0] in ("workspace", "state") else 1
    return ["terraform", *args[:words], "-no-color", *args[words:]]


def phase(name: str) -> dict[str, str]:
    """The environment that names a Terraform run's phase in its User-Agent, for the emulator's call record."""
    return {"TF_APPEND_USER_AGENT": f"store2018-phase/{name}"}


class TerraformFailed(AssertionError):
    """A Terraform command of a working copy failed (an AssertionError: in a test, a failed check)."""


def write_private(path: Path, document: dict[str, Any]) -> None:
    """JSON in a new file of mode 0600 from the start (it holds the run's key): no other local user may read it."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(document, out, indent=2)


def loopback_opener() -> urllib.request.OpenerDirector:
    """urllib for the emulator: no proxy, and its self-signed certificate accepted."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl._create_unverified_context())
    )


@dataclass(frozen=True)
class Credentials:
    """One emulator run's key: the emulator answers requests signed with this access key id only."""

    access_key_id: str
    secret_access_key: str

    @classmethod
    def new(cls) -> Credentials:
        # Shaped so that nothing takes them for AWS keys: 25 characters and a '-', where checkov's
        # CKV_AWS_41 looks for 20 and 40 (a bare token_urlsafe(30) had no '-' or '_' in about one run
        # in four, and the security gate failed on the plans' provider configuration).
        return cls("LOCAL" + secrets.token_hex(10).upper(), "local-" + secrets.token_urlsafe(30))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key})

    @classmethod
    def read(cls, path: Path) -> Credentials:
        stored = json.loads(path.read_text())
        return cls(stored["access_key_id"], stored["secret_access_key"])


_dead_proxy_socket: socket.socket | None = None


def dead_proxy() -> str:
    """A proxy URL on 127.0.0.1 that refuses every connection: a port this process holds bound but
    never listens on (so nothing else can take it while this process runs; the Terraform it starts
    runs no longer than it does)."""
    global _dead_proxy_socket
    if _dead_proxy_socket is None:
        _dead_proxy_socket = socket.socket()
        _dead_proxy_socket.bind(("127.0.0.1", 0))
    return f"http://127.0.0.1:{_dead_proxy_socket.getsockname()[1]}"


def sealed_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for anything that talks to the emulator (Terraform, moto, boto3): no AWS_*/TF_*
    variables of the user's, no AWS config or credentials file (a default profile's settings, such as
    FIPS endpoints, would apply), no proxy of theirs, and the dead proxy for everything but loopback
    (Go's HTTP client never proxies loopback; Python's honours NO_PROXY)."""
    proxy_names = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("AWS_", "TF_")) and k.lower() not in proxy_names
    }
    proxy = dead_proxy()
    env.update(HTTPS_PROXY=proxy, HTTP_PROXY=proxy, NO_PROXY="127.0.0.1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)  # fmt: skip
    return env


def seal_this_process() -> None:
    """Make this process's own environment sealed (its boto3 clients, and every child it starts)."""
    sealed = sealed_environment()
    os.environ.clear()
    os.environ.update(sealed)


class EmulatorEndpoint:
    """An emulator reachable at `url`, answering requests signed with `credentials` only (the local
    deploy's is started once and kept running)."""

    def __init__(self, url: str, credentials: Credentials) -> None:
        self.url = url
        self.credentials = credentials

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
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
        )


class MotoServer(EmulatorEndpoint):
    """The emulator (`local/emulator.py`: moto with its gaps filled, sealed) on 127.0.0.1 and a free
    port, with a new key written beside its log (mode 0600), stopped by `stop()`, after `idle_minutes`
    without a request, or after MOTO_MAX_SECONDS. `record`: a file where it writes every signed call
    (local/emulator.py, `--record`)."""

    def __init__(
        self,
        log_path: Path,
        *,
        idle_minutes: float = 15,
        max_minutes: float = MOTO_MAX_SECONDS / 60,
        detached: bool = False,
        record: Path | None = None,
    ) -> None:
        self.credentials_file = log_path.parent / "emulator-credentials.json"
        credentials = Credentials.new()
        credentials.write(self.credentials_file)
        port_file = log_path.parent / "emulator-port"
        port_file.unlink(missing_ok=True)  # the emulator writes a new one, or refuses
        self._log = log_path.open("a")
        # --port 0: the emulator binds a port of the system's choosing and says which once it listens.
        self._process = subprocess.Popen(
            [str(VENV_PYTHON), str(EMULATOR), "--port", "0", "--port-file", str(port_file), "--credentials-file",
             str(self.credentials_file), "--idle-minutes", str(idle_minutes), "--max-minutes", str(max_minutes),
             *(["--record", str(record)] if record else [])],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=sealed_environment(),  # moto imports botocore: an exported AWS_PROFILE must not reach it
            start_new_session=detached,  # a detached emulator outlives the command that started it
        )  # fmt: skip
        self.pid = self._process.pid
        self.port = self._wait_until_up(log_path, port_file, credentials)
        super().__init__(f"https://127.0.0.1:{self.port}", credentials)

    def _wait_until_up(self, log_path: Path, port_file: Path, credentials: Credentials) -> int:
        deadline = time.monotonic() + 60
        while True:
            written = port_file.read_text() if port_file.exists() else ""
            if written.endswith("\n") and emulator_answers(f"https://127.0.0.1:{int(written)}", credentials):
                return int(written)
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


def emulator_answers(url: str, credentials: Credentials) -> bool:
    """Whether the run's own emulator answers at `url`: its readiness check must answer a fresh nonce
    with the HMAC only the holder of `credentials`' secret key can make (local/emulator.py). Another
    process on the port (the emulator stopped on idle; someone bound it) is told nothing of the run."""
    nonce = secrets.token_hex(16)
    try:
        with loopback_opener().open(f"{url}{READY_PATH}?nonce={nonce}", timeout=2) as answer:
            said = answer.read(200).decode(errors="replace").strip()
    except OSError:
        return False
    return hmac.compare_digest(said, ready_proof(credentials.secret_access_key, nonce))


@dataclass
class TerraformResult:
    returncode: int
    output: str


# After its time is up, or when this process is asked to stop, Terraform gets one SIGINT and this long to
# finish what it started, write its state and release the lock (delivery/plans.py budgets with it).
INTERRUPT_GRACE_SECONDS = 300


def run_interruptible(
    command: list[str], *, cwd: Path, env: dict[str, str], timeout: float, echo: Callable[[str], None] | None = None,
    grace: float = INTERRUPT_GRACE_SECONDS,
) -> TerraformResult:  # fmt: skip
    """Terraform to the end, standard error merged into its output. It runs in a session of its own, so a
    signal meant for this process (GitHub's SIGINT then SIGTERM on a cancel, Ctrl-C) does not reach it
    raw: on such a signal, or when `timeout` is up, it gets ONE SIGINT, Terraform's own "stop": it
    finishes the operations in flight, writes the state and releases the lock. Only if it is still
    running `grace` seconds later is it killed (the lock may then stay: `terraform force-unlock`)."""
    process = subprocess.Popen(command, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if echo:
                echo(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    asked: list[str] = []
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for stop in (signal.SIGINT, signal.SIGTERM):
            previous[stop] = signal.signal(stop, lambda signum, _: asked.append(signal.Signals(signum).name))
    try:
        deadline, interrupted_at = time.monotonic() + timeout, None
        while process.poll() is None:
            now = time.monotonic()
            if interrupted_at is None and (asked or now > deadline):
                why = f"{asked[0]} received" if asked else f"not done within {timeout:.0f} s"
                lines.append(f"[{why}: sent terraform one SIGINT; waiting up to {grace:.0f} s for it to stop]\n")
                process.send_signal(signal.SIGINT)
                interrupted_at = now
            elif interrupted_at is not None and now - interrupted_at > grace:
                lines.append(f"[terraform still running {grace:.0f} s after SIGINT: killed; the lock may remain]\n")
                process.kill()
                break
            time.sleep(0.1)
        returncode = process.wait()
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    reader.join(timeout=10)
    if (asked or interrupted_at is not None) and returncode == 0:
        returncode = 1  # stopped early: never a success
    return TerraformResult(returncode, "".join(lines))


OVERRIDE_SUFFIX = "_override.tf.json"
LEFTOVERS = "leftover-overrides"
RUN_LOCK = ".run.lock"


class WorkdirBusy(RuntimeError):
    """Another command is using the working copy."""


class TerraformWorkdir:
    """A copy of a synthesised stack, initialised against the emulator.

    `create_state_bucket`: create the S3 backend's bucket directly (tests that only plan); the
    local deploy creates it with the bootstrap stack instead. A stack with a local backend (the
    bootstrap) keeps its state in the working folder. An existing folder is refreshed and
    re-initialised, so a second run converges on the same state. Use it as a context manager (or
    call `close()`): its override files are removed when the run ends.

    `keep_account_binding`: leave each environment's `allowed_account_ids` as synthesised (tests of the
    binding itself). By default the provider is bound to the emulator's account instead: the
    environments name real accounts, and a local run must still plan them.
    """

    def __init__(
        self,
        stack_dir: Path,
        workdir: Path,
        moto: EmulatorEndpoint,
        *,
        create_state_bucket: bool = True,
        report: Callable[[str], None] | None = None,
        keep_account_binding: bool = False,
    ) -> None:
        self.path = workdir
        self.moto = moto
        self.keep_account_binding = keep_account_binding
        self.synthesised = read_synthesis(stack_dir)
        self._written: list[Path] = []
        # Private: Terraform keeps the backend's settings, the run's key included, in .terraform/ and plans.
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o700)
        self._lock = self._take_lock()
        try:
            self._prepare(stack_dir, create_state_bucket, report)
        except BaseException:
            self.close()
            raise

    def _take_lock(self) -> Any:
        """One command per working copy: a second one would take the first one's override files for leftovers."""
        handle = (self.path / RUN_LOCK).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise WorkdirBusy(f"another command (pid {holder}) is using {self.path}; wait for it to end") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        return handle

    def _prepare(self, stack_dir: Path, create_state_bucket: bool, report: Callable[[str], None] | None) -> None:
        workdir = self.path
        moto = self.moto
        self.leftovers = self._set_aside_leftovers(report or (lambda line: print(line, file=sys.stderr)))
        shutil.copy2(stack_dir / "cdk.tf.json", workdir / "cdk.tf.json")
        self._write_override("emulator", self.emulator_override())
        rc = workdir / "terraformrc"
        rc.write_text("")  # no user CLI configuration, no warning about a missing one
        self.env = {
            **sealed_environment(),
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        backends = self.synthesised["terraform"]["backend"]
        if "s3" in backends:
            backend = backends["s3"]
            self.state_bucket: str = backend["bucket"]
            self.state_key: str = backend["key"]
            self.workspace_key_prefix: str = backend["workspace_key_prefix"]
            if create_state_bucket:
                s3 = moto.client("s3")
                if self.state_bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
                    s3.create_bucket(
                        Bucket=self.state_bucket, CreateBucketConfiguration={"LocationConstraint": backend["region"]}
                    )
        self.run("init", "-reconfigure", f"-plugin-dir={PLUGIN_DIR}")

    def emulator_override(self) -> dict[str, Any]:
        """Provider and backend pointed at the emulator, with this run's credentials in them."""
        credentials = self.moto.credentials
        keys = {"access_key": credentials.access_key_id, "secret_key": credentials.secret_access_key}
        region = self.synthesised["provider"]["aws"][0]["region"]
        override: dict[str, Any] = {
            "terraform": {
                "required_providers": {"aws": {"source": "hashicorp/aws", "version": mirrored_aws_version()}}
            },
            "provider": {
                "aws": [
                    {
                        "region": region,
                        **keys,
                        "skip_credentials_validation": True,
                        "skip_metadata_api_check": True,
                        "insecure": True,  # the emulator's self-signed certificate
                        "endpoints": [{service: self.moto.url for service in EMULATED_SERVICES}],
                    }
                ]
            },
        }
        if not self.keep_account_binding:  # the environments' accounts are real ones; the emulator's is moto's
            override["provider"]["aws"][0]["allowed_account_ids"] = [EMULATOR_ACCOUNT]
        backends = self.synthesised["terraform"]["backend"]
        if "local" in backends:
            override["terraform"]["backend"] = {"local": {"path": "terraform.tfstate"}}
        else:  # the synthesised backend as written, pointed at the emulator
            override["terraform"]["backend"] = {
                "s3": {
                    **backends["s3"],
                    **keys,
                    "endpoints": {"s3": self.moto.url},
                    "use_path_style": True,
                    "insecure": True,
                    "skip_credentials_validation": True,
                    "skip_requesting_account_id": True,
                    "skip_metadata_api_check": True,
                }
            }
        return override

    def _set_aside_leftovers(self, report: Callable[[str], None]) -> list[Path]:
        """Configuration files a killed run left behind (override files with lifted protections, a
        frozen table...; any `.tf` or `.tf.json` but the synthesis) are moved to `leftover-overrides/`
        and reported: never applied by a later run. (The run lock is held: no live run's files.)"""
        moved = []
        found = {*self.path.glob("*.tf"), *self.path.glob("*.tf.json")} - {self.path / "cdk.tf.json"}
        for leftover in sorted(found):
            target = self.path / LEFTOVERS / f"{leftover.name}.{time.strftime('%Y%m%dT%H%M%S')}"
            target.parent.mkdir(exist_ok=True)
            leftover.rename(target)
            moved.append(target)
            report(
                f"WARNING: {leftover} was left by an interrupted run; it was NOT applied "
                f"(moved to {target}). Read it, then delete it."
            )
        return moved

    def _write_override(self, name: str, document: dict[str, Any]) -> Path:
        path = self.path / f"{name}{OVERRIDE_SUFFIX}"
        write_private(path, document)  # the emulator override carries the run's key
        self._written.append(path)
        return path

    @contextlib.contextmanager
    def overriding(self, name: str, document: dict[str, Any]) -> Iterator[None]:
        """An extra override file (e.g. lifted protections) for the runs inside the block only."""
        path = self._write_override(name, document)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            self._written.remove(path)

    def close(self) -> None:
        """Remove the override files this run wrote (nothing of it applies to a later run); release the lock."""
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written.clear()
        if not self._lock.closed:
            self._lock.close()

    def __enter__(self) -> TerraformWorkdir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self, *args: str) -> list[str]:
        return terraform_command(*args)

    def environment(self, workspace: str | None, extra_env: dict[str, str] | None) -> dict[str, str]:
        return {**self.env, **({"TF_WORKSPACE": workspace} if workspace else {}), **(extra_env or {})}

    def start(
        self, *args: str, workspace: str | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        """Terraform in the background (output on a pipe), e.g. for the fault tests."""
        return subprocess.Popen(self.command(*args), cwd=self.path, env=self.environment(workspace, extra_env),
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 600,
        echo: Callable[[str], None] | None = None,
        workspace: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> TerraformResult:
        """Run Terraform to the end (run_interruptible: a timeout or a signal stops it with one SIGINT);
        `echo` receives each output line as it comes (progress). `workspace` (TF_WORKSPACE) overrides the
        selected one, so that runs in several workspaces can share the folder. `extra_env` is added as
        given (tests use it to play a user's exported variables)."""
        result = run_interruptible(self.command(*args), cwd=self.path, env=self.environment(workspace, extra_env),
                                   timeout=timeout, echo=echo)  # fmt: skip
        if check and result.returncode != 0:
            raise TerraformFailed(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.output}")
        return result

    def select_workspace(self, workspace: str) -> None:
        self.run("workspace", "select", "-or-create", workspace)

    def s3_client(self) -> Any:
        return self.moto.client("s3")

    def plan(self, workspace: str) -> TerraformResult:
        self.select_workspace(workspace)
        return self.run("plan", "-input=false", "-lock-timeout=60s", f"-out={workspace}.tfplan", check=False)

    def plan_json(self, workspace: str) -> dict[str, Any]:
        result = self.plan(workspace)
        if result.returncode != 0:
            raise TerraformFailed(f"plan in {workspace} failed:\n{result.output}")
        shown = self.run("show", "-json", f"{workspace}.tfplan")
        plan: dict[str, Any] = json.loads(shown.output)
        return plan


def planned_resources(plan: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """The planned values of every instance of a resource type (counted instances included)."""
    found: list[dict[str, Any]] = [
        r for r in plan["planned_values"]["root_module"].get("resources", []) if r["type"] == resource_type
    ]
    return found
