"""Shared fixtures: the project's settings, one in-process synthesis of the stack, and the emulator
for Terraform-level tests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import NodeId

import toolchain
from local.emulated import ROOT, SYNTH_STACK_DIR, MotoServer, TerraformWorkdir, missing_tools, seal_this_process
from store2018.loading import load_settings
from store2018.releases import Release
from store2018.settings import EnvironmentSettings, ServiceSpec, Settings, StateBackendSettings

# Before any test module imports cdktf (it starts jsii's Node kernel): the imports above start nothing.
toolchain.start()
# The tests' boto3 clients and everything they start: none of the caller's AWS settings or proxies.
seal_this_process()

IN_CI = os.environ.get("CI") == "true"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` keeps the tests of an `xdist_group` on one worker by suffixing their ids with
    `@<group>` in each worker; pytest 9.2 stores ids elsewhere, so pytest-xdist 3.8.0's suffix is lost and
    the groups silently split (pytest-dev/pytest-xdist#1386). Set it where pytest 9.2 reads it."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})  # fmt: skip
        if groups and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


#: The project's settings, as `main.py` loads them (environments.py and catalog.py).
SETTINGS = load_settings()


def settings_with(
    *,
    environments: Mapping[str, EnvironmentSettings] | None = None,
    services: Mapping[str, ServiceSpec] | None = None,
    state_backend: StateBackendSettings | None = None,
    releases: Mapping[str, Release] | None = None,
    **project: Any,
) -> Settings:
    """The project's settings with some values changed (validated again, as a user's edit would be).
    `releases` are used as given; every other environment runs its shipped release (a new one the first
    environment's), for the services there are (a new service runs 'latest')."""
    if state_backend is not None:
        project["state_backend"] = state_backend
    environments = SETTINGS.environments if environments is None else environments
    services = SETTINGS.services if services is None else services
    first = next(iter(SETTINGS.releases.values()))

    def release(workspace: str) -> Release:
        if releases and workspace in releases:
            return releases[workspace]
        shipped = SETTINGS.releases.get(workspace, first)
        return Release({s: shipped.images.get(s, "latest") for s in services}, source=shipped.source)

    return Settings(
        project=replace(SETTINGS.project, **project),
        environments=environments,
        services=services,
        releases={workspace: release(workspace) for workspace in environments},
    )


def synth(settings: Settings) -> str:
    """The stack synthesised in memory by cdktf's Testing helpers, as JSON text."""
    from cdktf import Testing as CdktfTesting

    from store2018.stack import Store2018Stack

    stack = Store2018Stack(CdktfTesting.app(), "store2018", settings=settings)
    return CdktfTesting.synth(stack)


def bootstrap(settings: Settings) -> dict[str, Any]:
    """The bootstrap stack synthesised in memory, parsed."""
    from cdktf import Testing as CdktfTesting

    from store2018.state_bucket import StateBootstrapStack

    parsed: dict[str, Any] = json.loads(
        CdktfTesting.synth(StateBootstrapStack(CdktfTesting.app(), "bootstrap", settings=settings))
    )
    return parsed


@pytest.fixture(scope="session")
def synthesized() -> str:
    return synth(SETTINGS)


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
def committed_stack(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerraformWorkdir]:
    """The committed synthesis (terraform/), initialised in a working copy against the emulator."""
    with TerraformWorkdir(SYNTH_STACK_DIR, tmp_path_factory.mktemp("tf") / "store2018", moto) as workdir:
        yield workdir


@pytest.fixture(scope="session")
def plans(committed_stack: TerraformWorkdir) -> dict[str, dict[str, Any]]:
    return {ws: committed_stack.plan_json(ws) for ws in SETTINGS.environments}


@dataclass(frozen=True)
class ProcessSynthesis:
    outdir: Path
    provider_import: str  # the mechanism's mode in that process
    provider_submodules: int  # how many provider submodules that process imported
    node_options: str


_CHILD = """
import json, runpy, sys
sys.argv = ["main.py"]
try:
    runpy.run_path("main.py", run_name="__main__")
except SystemExit as exit:
    if exit.code:
        raise
import os
from toolchain import provider_import
print(json.dumps({"mode": provider_import.mode(), "loaded": provider_import.loaded_submodules(),
                  "node_options": os.environ.get("NODE_OPTIONS", "")}))
"""


def synthesise_in_new_process(folder: Path, **env_overrides: str) -> ProcessSynthesis:
    """`main.py` run by a new interpreter into `folder/terraform`, with the project's defaults
    (no CDKTF_* or STORE2018_* variables) unless overridden."""
    folder.mkdir(parents=True, exist_ok=True)
    outdir = folder / "terraform"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "STORE2018_"))}
    env.update(CDKTF_OUTDIR=str(outdir), **env_overrides)  # CDKTF_OUTDIR: how `cdktf synth` picks the folder
    done = subprocess.run(
        [sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return ProcessSynthesis(outdir, report["mode"], report["loaded"], report["node_options"])


@pytest.fixture(scope="session")
def fresh_synthesis(tmp_path_factory: pytest.TempPathFactory) -> ProcessSynthesis:
    """`python main.py` with the project's defaults, as a new process, into a temporary folder."""
    return synthesise_in_new_process(tmp_path_factory.mktemp("synth"))


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.get("resource", {}).get(resource_type, {})
    return found


def resource_named(template: dict[str, Any], resource_type: str, construct_id: str) -> tuple[str, dict[str, Any]]:
    """The one resource of a type whose cdktf address starts with `construct_id` (e.g. `service_account_task`)."""
    found = [
        (k, v)
        for k, v in resources(template, resource_type).items()
        if re.fullmatch(rf"{construct_id}_[0-9A-F]{{8}}", k)
    ]
    assert len(found) == 1, (resource_type, construct_id, sorted(resources(template, resource_type)))
    return found[0]


def ref(resource_type: str, address: str, attribute: str) -> str:
    """How the synthesis refers to another resource's attribute."""
    return f"${{{resource_type}.{address}.{attribute}}}"


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


# A copy of the project, as a user edits and runs it.


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
    for name in ("constructs", "toolchain", "terraform", "releases"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in (".venv", "node_modules"):
        (folder / name).symlink_to(ROOT / name)
    return folder


def command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "TF_CLI_CONFIG", "STORE2018_"))}
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(CHECKPOINT_DISABLE="1", DISABLE_VERSION_CHECK="1", CI="true")
    return env
