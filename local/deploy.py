#!/usr/bin/env python
"""Deploy the synthesised stacks into a local AWS emulator, and tear them down again.

    make local-up      (python -m local.deploy up, from the project's root)
    make local-down    (python -m local.deploy down)

`up`: start the emulator on 127.0.0.1 (a free port, its own process, left running for
inspection; it stops itself after --idle-minutes without a request), synthesise, apply the state
bootstrap stack (the S3 state bucket), initialise the main stack against the emulator from a
working copy outside `terraform/` (an override file beside the copy: endpoints, the run's key,
the mirrored provider version), then create, select and apply every workspace. Re-running
converges; if the emulator was restarted meanwhile, it bootstraps again.

`down`: lift the load balancer's deletion protection and the state bucket's protection
deliberately (override files in the working copies, for the destroy's runs only), destroy every
workspace and the bootstrap, and stop the emulator.

`terraform WORKSPACE ARGS...`: Terraform in the main stack's working copy, against the running
emulator (the override files exist only while a command runs). `aws ARGS...`: the AWS CLI against
the emulator, with its key and endpoint and nothing of the caller's AWS settings.

Everything lives in `.local/` (git-ignored, mode 0700: the working copies hold the run's key). The emulator answers
only requests signed with that key. What it proves and what it does not: README, "Local deploy".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local.emulated import (
    BOOTSTRAP_STACK_DIR,
    ROOT,
    SYNTH_STACK_DIR,
    VENV_PYTHON,
    Credentials,
    EmulatorEndpoint,
    MotoServer,
    TerraformWorkdir,
    emulator_answers,
    missing_tools,
    read_synthesis,
    seal_this_process,
    sealed_environment,
)

LOCAL_DIR = ROOT / ".local"
EMULATOR_RECORD = LOCAL_DIR / "emulator.json"
EMULATOR_LOG = LOCAL_DIR / "emulator.log"
EMULATOR_CREDENTIALS = LOCAL_DIR / "emulator-credentials.json"  # written by MotoServer beside its log
IDLE_MINUTES = 30
MAX_MINUTES = 8 * 60

Echo = Callable[[str], None]


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def prefixed(prefix: str) -> Echo:
    def echo(line: str) -> None:
        if line.strip():
            print(f"  [{prefix}] {line}", flush=True)

    return echo


def workspaces(stack_dir: Path = SYNTH_STACK_DIR) -> list[str]:
    """The environments table's workspaces, as the synthesis carries them."""
    return list(read_synthesis(stack_dir)["locals"]["environments"])


def lifted_protection_override(stack_dir: Path = SYNTH_STACK_DIR) -> dict[str, Any]:
    """The environments table with `alb_deletion_protection` off in every workspace: the deliberate
    step before destroying a protected load balancer. An override file; the synthesis is untouched."""
    environments = read_synthesis(stack_dir)["locals"]["environments"]  # a fresh copy: ours to change
    for settings in environments.values():
        settings["alb_deletion_protection"] = False
    return {"locals": {"environments": environments}}


def lifted_bucket_override(stack_dir: Path = BOOTSTRAP_STACK_DIR) -> dict[str, Any]:
    """Lets Terraform destroy the state bucket, objects included, and its key (protections lifted)."""
    resources = read_synthesis(stack_dir)["resource"]
    (bucket,) = resources["aws_s3_bucket"]
    (key,) = resources["aws_kms_key"]
    lifted = {"lifecycle": {"prevent_destroy": False}}
    return {"resource": {"aws_s3_bucket": {bucket: {"force_destroy": True, **lifted}}, "aws_kms_key": {key: lifted}}}


class LocalDeployment:
    """The bootstrap and the main stack, each in a working copy under `folder`, against `emulator`."""

    def __init__(self, folder: Path, emulator: EmulatorEndpoint, echo: Callable[[str], Echo] = prefixed) -> None:
        self.folder = folder
        self.emulator = emulator
        self.echo = echo

    def bootstrap_workdir(self) -> TerraformWorkdir:
        return TerraformWorkdir(BOOTSTRAP_STACK_DIR, self.folder / "bootstrap", self.emulator)

    def main_workdir(self) -> TerraformWorkdir:
        return TerraformWorkdir(SYNTH_STACK_DIR, self.folder / "store2018", self.emulator, create_state_bucket=False)

    def bootstrap(self) -> None:
        with self.bootstrap_workdir() as workdir:
            workdir.run("apply", "-auto-approve", "-input=false", echo=self.echo("bootstrap"), timeout=900)

    def apply_all(self, workspaces: list[str], workdir: TerraformWorkdir) -> dict[str, float]:
        """Apply every workspace at once (each has its own state and lock, and most of an apply is
        waiting on the cloud); returns each apply's seconds. The workspaces are created first, one by one."""
        for workspace in workspaces:
            workdir.select_workspace(workspace)

        def apply(workspace: str) -> float:
            started = time.monotonic()
            workdir.run("apply", "-auto-approve", "-input=false", "-lock-timeout=60s", echo=self.echo(workspace),
                        timeout=1800, workspace=workspace)  # fmt: skip
            return time.monotonic() - started

        with ThreadPoolExecutor(max_workers=len(workspaces)) as pool:
            return dict(zip(workspaces, pool.map(apply, workspaces), strict=True))

    def outputs(self, workspace: str, workdir: TerraformWorkdir) -> dict[str, Any]:
        workdir.select_workspace(workspace)
        shown: dict[str, Any] = json.loads(workdir.run("output", "-json").output)
        return {name: entry["value"] for name, entry in shown.items()}

    def destroy(self, workspace: str, workdir: TerraformWorkdir) -> None:
        """Lift deletion protection (an apply with the override, for these runs only), then destroy."""
        workdir.select_workspace(workspace)
        echo = self.echo(f"{workspace} down")
        with workdir.overriding("lift_protection", lifted_protection_override()):
            workdir.run("apply", "-auto-approve", "-input=false", echo=echo, timeout=1800)
            workdir.run("destroy", "-auto-approve", "-input=false", echo=echo, timeout=1800)
        workdir.select_workspace("default")
        workdir.run("workspace", "delete", workspace)

    def destroy_bootstrap(self) -> None:
        echo = self.echo("bootstrap down")
        with self.bootstrap_workdir() as workdir, workdir.overriding("lift_protection", lifted_bucket_override()):
            workdir.run("apply", "-auto-approve", "-input=false", echo=echo, timeout=900)
            workdir.run("destroy", "-auto-approve", "-input=false", echo=echo, timeout=900)


def running_emulator() -> tuple[EmulatorEndpoint, int] | None:
    """The emulator `up` left running, if it still answers."""
    if not EMULATOR_RECORD.exists():
        return None
    record = json.loads(EMULATOR_RECORD.read_text())
    if not EMULATOR_CREDENTIALS.exists():
        return None
    credentials = Credentials.read(EMULATOR_CREDENTIALS)
    if not emulator_answers(record["url"], credentials):  # stopped, or another process on its port
        return None
    return EmulatorEndpoint(record["url"], credentials), int(record["pid"])


def start_emulator(idle_minutes: float) -> EmulatorEndpoint:
    """A new emulator, detached from this command. Its old working copies refer to a world that is
    gone: they are removed, so that the bootstrap runs again."""
    shutil.rmtree(LOCAL_DIR / "work", ignore_errors=True)
    LOCAL_DIR.mkdir(mode=0o700, exist_ok=True)
    os.chmod(LOCAL_DIR, 0o700)  # the working copies and the emulator's log folder hold the run's key
    server = MotoServer(EMULATOR_LOG, idle_minutes=idle_minutes, max_minutes=MAX_MINUTES, detached=True)
    EMULATOR_RECORD.write_text(json.dumps({"url": server.url, "pid": server.pid, "started": time.time()}))
    return server


def synthesise() -> None:
    done = subprocess.run([str(VENV_PYTHON), str(ROOT / "main.py")], cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def up(idle_minutes: float) -> int:
    reason = missing_tools()
    if reason:
        print(f"local-up needs Terraform, the AWS provider and the emulator: {reason}", file=sys.stderr)
        return 2
    started = time.monotonic()
    say("synthesising terraform/")
    synthesise()
    found = running_emulator()
    if found:
        emulator, _ = found
        say(f"reusing the emulator at {emulator.url}")
    else:
        emulator = start_emulator(idle_minutes)
        say(f"started the emulator at {emulator.url} (stops itself after {idle_minutes:g} idle minutes)")
    deployment = LocalDeployment(LOCAL_DIR / "work", emulator)
    say("state bootstrap: the S3 state bucket")
    deployment.bootstrap()
    say("main stack: init against the emulator")
    with deployment.main_workdir() as workdir:
        say(f"applying workspaces {', '.join(workspaces())}, side by side (output prefixed by workspace)")
        for workspace, seconds in deployment.apply_all(workspaces(), workdir).items():
            say(f"{workspace} applied in {seconds:.0f} s")
        for workspace in workspaces():
            say(f"outputs of {workspace}")
            for name, value in deployment.outputs(workspace, workdir).items():
                print(f"  {name} = {json.dumps(value)}")
    say(f"done in {time.monotonic() - started:.0f} s")
    print(
        f"""
The emulator at {emulator.url} answers only requests signed with this run's key ({EMULATOR_CREDENTIALS},
mode 0600); its /moto-api/ control endpoints are closed. Inspect it through the AWS APIs:
  python -m local.deploy aws ecs list-services --cluster staging-store2018-cluster
  python -m local.deploy aws elbv2 describe-load-balancers
Terraform against it (override files exist only while the command runs):
  python -m local.deploy terraform staging state list
Tear down: make local-down"""
    )
    return 0


def aws_cli(args: list[str]) -> int:
    """The AWS CLI against the running emulator: its key and endpoint, the sealed environment (none of the
    caller's profiles, credentials, endpoints or proxies), so that no call can go to AWS."""
    found = running_emulator()
    if not found:
        print("no emulator is running (make local-up): nothing to ask", file=sys.stderr)
        return 1
    if shutil.which("aws") is None:
        print("the AWS CLI (v2) is not on PATH: https://docs.aws.amazon.com/cli/", file=sys.stderr)
        return 1
    emulator, _ = found
    env = {**sealed_environment(), "AWS_ACCESS_KEY_ID": emulator.credentials.access_key_id,
           "AWS_SECRET_ACCESS_KEY": emulator.credentials.secret_access_key, "AWS_DEFAULT_REGION": "us-west-2",
           "PYTHONWARNINGS": "ignore:Unverified HTTPS request"}  # fmt: skip
    return subprocess.run(["aws", "--endpoint-url", emulator.url, "--no-verify-ssl", *args], env=env).returncode


def terraform(workspace: str, args: list[str]) -> int:
    """One Terraform command in the main stack's working copy, in `workspace`, against the emulator."""
    found = running_emulator()
    if not found or not (LOCAL_DIR / "work" / "store2018").exists():
        print("no local deploy is running (make local-up)", file=sys.stderr)
        return 1
    emulator, _ = found
    with LocalDeployment(LOCAL_DIR / "work", emulator).main_workdir() as workdir:
        return workdir.run(*args, check=False, echo=print, workspace=workspace).returncode


def down() -> int:
    found = running_emulator()
    if not found:
        say("no emulator is running: nothing to destroy (its state went with it)")
        shutil.rmtree(LOCAL_DIR, ignore_errors=True)
        return 0
    emulator, pid = found
    deployment = LocalDeployment(LOCAL_DIR / "work", emulator)
    if (LOCAL_DIR / "work" / "store2018").exists():
        with deployment.main_workdir() as workdir:
            existing = workdir.run("workspace", "list").output
            for workspace in reversed(workspaces()):
                if workspace in existing.split():
                    say(f"destroying workspace {workspace} (deletion protection lifted first)")
                    deployment.destroy(workspace, workdir)
    if (LOCAL_DIR / "work" / "bootstrap").exists():
        say("destroying the state bootstrap (the bucket's protection lifted first)")
        deployment.destroy_bootstrap()
    say(f"stopping the emulator (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    shutil.rmtree(LOCAL_DIR, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="deploy both workspaces into a local emulator")
    up_parser.add_argument("--idle-minutes", type=float, default=IDLE_MINUTES)
    sub.add_parser("down", help="destroy everything and stop the emulator")
    aws_parser = sub.add_parser("aws", help="run the AWS CLI against the running emulator")
    aws_parser.add_argument("args", nargs=argparse.REMAINDER)
    tf_parser = sub.add_parser("terraform", help="run Terraform in a workspace against the running emulator")
    tf_parser.add_argument("workspace")
    tf_parser.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    # SIGTERM as an exception, like SIGINT: `finally` blocks remove this run's override files.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    seal_this_process()  # none of the caller's AWS settings or proxies, here or in any child
    if args.command == "up":
        return up(args.idle_minutes)
    if args.command == "down":
        return down()
    if args.command == "aws":
        return aws_cli(args.args)
    return terraform(args.workspace, args.args)


if __name__ == "__main__":
    sys.exit(main())
