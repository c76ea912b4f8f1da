"""Faults during a local deploy: a concurrent apply meets the state lock; an apply interrupted with
SIGINT (Terraform's graceful stop) leaves a partial state that a second apply completes, with no
duplicate resources and nothing lost."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import SETTINGS

from local.deploy import LocalDeployment
from local.emulated import MotoServer, TerraformWorkdir

# One worker per group (`--dist loadgroup`): its tests share the session and module fixtures.
pytestmark = [pytest.mark.terraform, pytest.mark.xdist_group("faults")]

WORKSPACE = "staging"
# Resources created before the interrupt: enough to prove the apply was really under way.
CREATED_BEFORE_INTERRUPT = 10


class Reader:
    """Collects a background Terraform's output lines as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def created(self) -> int:
        return sum(1 for line in self.lines if ": Creation complete after" in line)

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


@pytest.fixture(scope="module")
def stack(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, TerraformWorkdir]]:
    server = MotoServer(tmp_path_factory.mktemp("faults-moto") / "emulator.log")
    deployment = LocalDeployment(tmp_path_factory.mktemp("faults") / "work", server, echo=lambda p: lambda line: None)
    deployment.bootstrap()
    workdir = deployment.main_workdir()
    workdir.select_workspace(WORKSPACE)
    yield server, workdir
    workdir.close()
    server.stop()


def apply_command() -> tuple[str, ...]:
    return ("apply", "-auto-approve", "-input=false")


def count_in_emulator(server: MotoServer) -> dict[str, int]:
    """How many of each unique resource the emulator holds for the workspace."""
    client = server.client
    tag = {"Key": "Workspace", "Value": WORKSPACE}
    clusters = [a for a in client("ecs").list_clusters()["clusterArns"] if f"/{WORKSPACE}-" in a]
    return {
        "vpcs": sum(1 for v in client("ec2").describe_vpcs()["Vpcs"] if tag in v.get("Tags", [])),
        "nat gateways": sum(1 for g in client("ec2").describe_nat_gateways()["NatGateways"]
                            if tag in g.get("Tags", []) and g["State"] == "available"),
        "load balancers": len(client("elbv2").describe_load_balancers()["LoadBalancers"]),
        "target groups": len(client("elbv2").describe_target_groups()["TargetGroups"]),
        "clusters": len(clusters),
        "services": sum(len(client("ecs").list_services(cluster=c)["serviceArns"]) for c in clusters),
        "roles": len(client("iam").list_roles()["Roles"]),
        "log groups": len(client("logs").describe_log_groups()["logGroups"]),
        "namespaces": len(client("servicediscovery").list_namespaces()["Namespaces"]),
    }  # fmt: skip


def managed(workdir: TerraformWorkdir) -> list[str]:
    """The resources in the workspace's state (data sources left out: they are read, not created)."""
    return [a for a in workdir.run("state", "list").output.split() if not a.startswith("data.")]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_second_apply_is_refused_by_the_lock_and_an_interrupted_apply_recovers(
    stack: tuple[MotoServer, TerraformWorkdir],
) -> None:
    server, workdir = stack
    first = workdir.start(*apply_command())
    output = Reader(first)
    wait_for(lambda: output.created() >= CREATED_BEFORE_INTERRUPT or first.poll() is not None, 300,
             f"{CREATED_BEFORE_INTERRUPT} resources created by the first apply")  # fmt: skip
    assert first.poll() is None, output.text()  # the first apply is running and has created resources

    second = workdir.run(*apply_command(), check=False, timeout=300)
    assert second.returncode != 0
    assert "Error acquiring the state lock" in second.output, second.output
    assert first.poll() is None  # the refusal happened while the first apply held the lock

    first.send_signal(signal.SIGINT)  # one signal: Terraform's graceful stop
    returncode = first.wait(timeout=600)
    log = output.text()
    assert returncode != 0, log
    assert "Interrupt received" in log, log

    partial = managed(workdir)
    assert len(partial) >= CREATED_BEFORE_INTERRUPT, partial
    created_before = set(partial)

    again = workdir.run(*apply_command(), timeout=1200)
    summary = re.search(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed", again.output)
    assert summary, again.output
    added, destroyed = int(summary.group(1)), int(summary.group(3))
    complete = managed(workdir)
    assert created_before <= set(complete)  # nothing lost
    # Only what was missing was added; a resource caught mid-create is tainted and replaced (its
    # half-made copy destroyed), never duplicated.
    assert len(complete) == len(partial) + added - destroyed, again.output[-4000:]
    assert destroyed <= 5 and len(complete) > len(partial)

    replan = workdir.run("plan", "-input=false", "-detailed-exitcode", check=False)
    assert replan.returncode == 0, replan.output
    env = SETTINGS.environments[WORKSPACE]
    assert count_in_emulator(server) == {
        "vpcs": 1,
        "nat gateways": env.nat_gateway_mode.gateway_count(2),
        "load balancers": 1,
        "target groups": 4,
        "clusters": 1,
        "services": 4,
        "roles": 9,
        "log groups": 6,  # the four services', the flow logs' and the exec sessions'
        "namespaces": 1,
    }
