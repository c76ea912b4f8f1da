"""Shared fixtures: one in-process synthesis of the stack, and the emulator for Terraform-level tests."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import store2018.jsii_node  # noqa: F401  (first: selects jsii's Node before cdktf starts it)

# isort: split
import pytest
from cdktf import Testing as CdktfTesting
from tfharness import SYNTH_STACK_DIR, MotoServer, TerraformWorkdir, missing_tools

from store2018.config import ProjectSettings
from store2018.stack import Store2018Stack

IN_CI = os.environ.get("CI") == "true"


def synth(settings: ProjectSettings) -> str:
    """The stack synthesised in memory by cdktf's Testing helpers, as JSON text."""
    stack = Store2018Stack(CdktfTesting.app(), "store2018", settings=settings)
    return CdktfTesting.synth(stack)


@pytest.fixture(scope="session")
def synthesized() -> str:
    return synth(ProjectSettings())


@pytest.fixture(scope="session")
def template(synthesized: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(synthesized)
    return parsed


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    reason = missing_tools()
    if reason:
        if IN_CI:
            pytest.fail(f"Terraform-level tests cannot run under CI=true: {reason}")
        pytest.skip(reason)
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def committed_stack(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> TerraformWorkdir:
    """The committed synthesis (terraform/), initialised in a working copy against the emulator."""
    return TerraformWorkdir(SYNTH_STACK_DIR, tmp_path_factory.mktemp("tf") / "store2018", moto)


@pytest.fixture(scope="session")
def plans(committed_stack: TerraformWorkdir) -> dict[str, dict[str, Any]]:
    return {ws: committed_stack.plan_json(ws) for ws in ProjectSettings().environment_names}


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.get("resource", {}).get(resource_type, {})
    return found


def tracked_files(root: Path) -> dict[str, bytes]:
    """The files git tracks under `root`: local Terraform run folders and state beside them are ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "."], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    return {name: (root / name).read_bytes() for name in listed.split("\0") if name}


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def tree_differences(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[str]:
    """Files that differ between two trees, byte for byte (missing and extra files included)."""
    diffs = [f"missing from the fresh synthesis: {f}" for f in sorted(expected.keys() - actual.keys())]
    diffs += [f"not committed: {f}" for f in sorted(actual.keys() - expected.keys())]
    diffs += [f"differs: {f}" for f in sorted(expected.keys() & actual.keys()) if expected[f] != actual[f]]
    return diffs
