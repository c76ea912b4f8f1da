"""The two locks of issue 22, with the real Terraform.

The state lock: plans never fight applies, against the emulator's S3-native lock. While an apply holds
it, a drift check says an apply is in progress instead of reporting drift, and a plan (the pull
request's, the prod review's) runs without waiting for the lock or taking it. A Terraform stopped by its
time limit gets one SIGINT and releases the lock. The stack is a tiny one (one `terraform_data` whose
creation sleeps), so that the apply holds the lock for as long as the test needs, whatever the machine's
speed; the backend is the project's (S3, use_lockfile).

The provider lock: `TARGET=aws` initialises with the committed lock, read-only, so that init installs
only a provider package whose hash the lock names (delivery/targets.py, install_provider_lock)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from delivery import plans
from delivery.targets import install_provider_lock
from local.emulated import PLUGIN_DIR, MotoServer, TerraformWorkdir, mirrored_aws_version, sealed_environment

pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("locks")]

WORKSPACE = "staging"
APPLY_SLEEPS = 60  # seconds the apply holds the lock: far longer than the checks made meanwhile


@pytest.fixture()
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """The stack, with a state of its own per test (the emulator is shared by the session)."""
    folder = tmp_path / "stack"
    folder.mkdir()
    synthesis = {
        "terraform": {
            "backend": {"s3": {"bucket": "store2018-lock-test", "key": f"{request.node.name}.tfstate",
                               "region": "us-west-2", "encrypt": True, "use_lockfile": True,
                               "workspace_key_prefix": "env"}},
            "required_providers": {"aws": {"source": "hashicorp/aws"}},
        },
        "provider": {"aws": [{"region": "us-west-2"}]},
        "resource": {"terraform_data": {"slow": {
            "input": "held",
            "provisioner": [{"local-exec": {"command": f"exec /bin/sleep {APPLY_SLEEPS}"}}],
        }}},
    }  # fmt: skip
    (folder / "cdk.tf.json").write_text(json.dumps(synthesis, indent=2))
    return folder


@pytest.fixture()
def copies(moto: MotoServer, stack: Path, tmp_path: Path) -> Iterator[tuple[TerraformWorkdir, TerraformWorkdir]]:
    """Two working copies of one stack and state, as two runners have: one applies, one plans."""
    # The first creates the state bucket; the second finds it.
    with (
        TerraformWorkdir(stack, tmp_path / "applying", moto) as applying,
        TerraformWorkdir(stack, tmp_path / "planning", moto, create_state_bucket=False) as planning,
    ):
        applying.select_workspace(WORKSPACE)
        yield applying, planning


def wait_for_lock(workdir: TerraformWorkdir, stack: Path, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while (held := plans.state_lock(workdir, WORKSPACE, stack)) is None:
        assert time.monotonic() < deadline, "the apply never took the state lock"
        time.sleep(0.2)
    return held


def test_while_an_apply_holds_the_lock_drift_says_so_and_a_plan_goes_ahead(
    copies: tuple[TerraformWorkdir, TerraformWorkdir], stack: Path, tmp_path: Path
) -> None:
    applying, planning = copies
    apply = applying.start("apply", "-auto-approve", "-input=false", workspace=WORKSPACE)
    try:
        held = wait_for_lock(planning, stack, timeout=60)
        assert held["Operation"] == "OperationTypeApply"

        with pytest.raises(plans.ApplyInProgress, match=rf"state of {WORKSPACE} is locked \(lock ID {held['ID']}, "
                           r"OperationTypeApply by .*an apply is in progress, so drift was not checked"):  # fmt: skip
            plans.drift(planning, WORKSPACE, tmp_path / "drift", stack_dir=stack)

        saved = plans.plan(planning, WORKSPACE, tmp_path / "plan", stack_dir=stack, refresh_only=False)
        assert [c["address"] for c in saved.plan()["resource_changes"]] == ["terraform_data.slow"]
        # The same plan with the lock would have waited for it: the lock really was held throughout.
        locked = planning.run("plan", "-input=false", "-lock-timeout=1s", check=False, workspace=WORKSPACE)
        assert locked.returncode != 0 and "Error acquiring the state lock" in locked.output, locked.output
        assert apply.poll() is None and plans.state_lock(planning, WORKSPACE, stack) == held
    finally:
        output, _ = apply.communicate(timeout=APPLY_SLEEPS + 120)
    assert apply.returncode == 0, output
    assert plans.state_lock(planning, WORKSPACE, stack) is None
    assert plans.drift(planning, WORKSPACE, tmp_path / "drift", stack_dir=stack) == []  # done: drift checked


def test_an_apply_out_of_time_gets_one_sigint_and_releases_the_lock(
    copies: tuple[TerraformWorkdir, TerraformWorkdir], stack: Path
) -> None:
    applying, planning = copies
    stopped = applying.run("apply", "-auto-approve", "-input=false", workspace=WORKSPACE, check=False, timeout=15)
    assert stopped.returncode != 0
    assert "[not done within 15 s: sent terraform one SIGINT; waiting up to" in stopped.output, stopped.output
    assert "Interrupt received" in stopped.output, stopped.output
    assert "after SIGINT: killed" not in stopped.output  # it stopped by itself within the grace (its sleep was killed)
    assert plans.state_lock(planning, WORKSPACE, stack) is None  # released: the next run needs no force-unlock


# The provider lock.


def terraform(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**sealed_environment(), "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return subprocess.run(["terraform", f"-chdir={folder}", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_init_installs_only_a_provider_package_the_committed_lock_names(moto: MotoServer, tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    version = mirrored_aws_version()
    assert version
    synthesis = {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": version}}}}
    (stack / "cdk.tf.json").write_text(json.dumps(synthesis))
    # The lock as `make provider-lock` makes it, from the offline mirror here instead of the registry.
    made = terraform(stack, "providers", "lock", f"-fs-mirror={PLUGIN_DIR}", "-platform=linux_amd64")
    assert made.returncode == 0, made.stderr
    lock = tmp_path / "terraform.lock.hcl"
    (stack / ".terraform.lock.hcl").rename(lock)
    text = lock.read_text()
    assert f'version     = "{version}"' in text and '"h1:' in text

    def init_with(lock_file: Path, name: str) -> subprocess.CompletedProcess[str]:
        work = tmp_path / name
        work.mkdir()
        (work / "cdk.tf.json").write_text(json.dumps(synthesis))
        arguments = install_provider_lock(stack, work, lock_file)
        return terraform(work, "init", "-no-color", "-input=false", "-backend=false", f"-plugin-dir={PLUGIN_DIR}",
                         *arguments)  # fmt: skip

    assert init_with(lock, "locked").returncode == 0
    # Another package than the one locked (here: the lock's hash changed): init refuses to install it.
    tampered = tmp_path / "tampered.hcl"
    tampered.write_text(re.sub(r'"h1:[^"]+"', '"h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="', text))
    refused = init_with(tampered, "tampered")
    assert refused.returncode != 0
    message = " ".join(refused.stderr.replace("│", " ").split())
    assert "doesn't match any of the checksums previously recorded in the dependency lock file" in message, message
