"""Where the driver's Terraform runs: `local`, the emulator of `make local-up`, or `aws`, the account
whose credentials the environment holds (in GitHub Actions: the role assumed through OIDC).

Each target is a working copy of terraform/stacks/store2018 under .delivery/work/<target>/ (mode
0700: Terraform keeps the backend's settings and plans there). The default is `local`: nothing goes to
AWS unless a command says `TARGET=aws`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from delivery.plans import DELIVERY_DIR, INIT_SECONDS, SMALL_SECONDS, DriverError, Workdir, backend_of, copy_stack
from local.emulated import (
    ROOT,
    SYNTH_STACK_DIR,
    TerraformResult,
    TerraformWorkdir,
    read_synthesis,
    run_interruptible,
    terraform_command,
)

TARGETS = ("local", "aws")
# The AWS provider's hashes, one per platform, committed (`make provider-lock`, on a machine that reaches
# the registry): `terraform init` against AWS installs only a package that matches one of them.
PROVIDER_LOCK = ROOT / "toolchain" / "terraform.lock.hcl"
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"


def install_provider_lock(stack_dir: Path, folder: Path, lock: Path = PROVIDER_LOCK) -> list[str]:
    """The committed provider lock copied into a working copy, after checking that it locks the version
    the synthesis pins; returns the `terraform init` arguments that hold init to it (read-only: init
    fails rather than trust a package the lock does not name, or write another hash into it)."""
    pinned = read_synthesis(stack_dir)["terraform"]["required_providers"]["aws"]["version"]
    fix = "run `make provider-lock` on a machine that reaches registry.terraform.io and commit the file it writes"
    if not lock.is_file():
        shown = lock.relative_to(ROOT) if lock.is_relative_to(ROOT) else lock
        raise DriverError(f"TARGET=aws refused: no provider lock {shown} (the AWS provider {pinned}'s hashes, "
                          f"which init checks the download against): {fix}")  # fmt: skip
    found = re.search(rf'provider "{re.escape(AWS_PROVIDER)}" {{\s*version\s*=\s*"([^"]+)"', lock.read_text())
    locked = found.group(1) if found else "no version"
    if locked != pinned:
        raise DriverError(f"TARGET=aws refused: {lock.name} locks the AWS provider at {locked}, the synthesis "
                          f"pins {pinned}: {fix}")  # fmt: skip
    shutil.copyfile(lock, folder / ".terraform.lock.hcl")
    return ["-lockfile=readonly"]


class AwsWorkdir:
    """terraform/stacks/store2018 copied and initialised against its S3 backend, with the caller's AWS
    credentials (no override file: what runs is the synthesis as reviewed) and the provider the
    committed lock names (PROVIDER_LOCK)."""

    def __init__(self, stack_dir: Path, folder: Path, provider_lock: Path = PROVIDER_LOCK) -> None:
        self.path = copy_stack(stack_dir, folder)
        self.env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
        locked = install_provider_lock(stack_dir, self.path, provider_lock)
        self.run("init", "-input=false", "-reconfigure", *locked, timeout=INIT_SECONDS)

    def run(self, *args: str, check: bool = True, echo: Callable[[str], None] | None = None, timeout: float = 600,
            workspace: str | None = None) -> TerraformResult:  # fmt: skip
        env = {**self.env, **({"TF_WORKSPACE": workspace} if workspace else {})}
        result = run_interruptible(terraform_command(*args), cwd=self.path, env=env, timeout=timeout, echo=echo)
        if check and result.returncode != 0:
            raise DriverError(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.output}")
        return result

    def select_workspace(self, workspace: str) -> None:
        self.run("workspace", "select", "-or-create", workspace, timeout=SMALL_SECONDS)

    def s3_client(self) -> Any:
        """S3 with the caller's credentials, in the backend's region (the state lock's object)."""
        import boto3

        return boto3.client("s3", region_name=backend_of(self.path / "cdk.tf.json")["region"])


@contextmanager
def workdir(target: str, stack_dir: Path = SYNTH_STACK_DIR) -> Iterator[Workdir]:
    folder = DELIVERY_DIR / "work" / target
    if target == "aws":
        yield AwsWorkdir(stack_dir, folder)
        return
    if target != "local":
        raise DriverError(f"TARGET={target!r} is not a target: use one of {', '.join(TARGETS)}")
    from local.deploy import running_emulator

    found = running_emulator()
    if found is None:
        raise DriverError("TARGET=local needs the local emulator: run `make local-up` first (or TARGET=aws)")
    emulator, _ = found
    with TerraformWorkdir(stack_dir, folder, emulator, create_state_bucket=False) as local:
        yield local
