"""The mechanism that loads only the provider bindings a stack uses (toolchain/provider_import)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ProcessSynthesis, all_files, synthesise_in_new_process, tree_differences

from toolchain import provider_import
from toolchain.provider_import import NODE_HOOK, ProviderLayoutError, layout_problems

INIT = Path(importlib.util.find_spec(provider_import.PACKAGE).origin or "")  # type: ignore[union-attr]
SUBMODULES = "".join(f"from . import m{i}\n" for i in range(1200))


def test_this_process_loaded_only_what_the_stack_uses() -> None:
    assert provider_import.mode() == "lazy"
    assert 0 < provider_import.loaded_submodules() < 60
    assert str(NODE_HOOK) in os.environ["NODE_OPTIONS"]


def test_the_installed_package_has_the_expected_layout() -> None:
    assert layout_problems(INIT.read_text()) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("class Helper:\n    pass\n", "class Helper"),
        ("from .vpc import Vpc as VpcAlias\n", "from .vpc import Vpc as VpcAlias"),
        ("import requests\n", "import requests"),
        ("REGISTRY = {}\n", "REGISTRY = {}"),
        ("register_all()\n", "register_all()"),
    ],
)
def test_anything_beyond_submodule_imports_is_reported(extra: str, expected: str) -> None:
    problems = layout_problems(SUBMODULES + extra)
    assert len(problems) == 1 and expected in problems[0]


def test_a_package_with_few_submodules_is_reported() -> None:
    assert layout_problems("from . import vpc\n") == [
        "only 1 `from . import <submodule>` lines (expected at least 1000)"
    ]


def test_install_fails_loudly_on_a_changed_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "changed_provider"
    package.mkdir()
    (package / "__init__.py").write_text(SUBMODULES + "class Registry:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ProviderLayoutError, match=r"changed_provider/__init__.py changed.*class Registry.*=eager"):
        provider_import.install("changed_provider")
    assert "changed_provider" not in sys.modules


def test_an_unknown_switch_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(provider_import.SWITCH, "fast")
    with pytest.raises(ProviderLayoutError, match="STORE2018_PROVIDER_IMPORT='fast' is invalid: use one of lazy"):
        provider_import.mode()


def _node_hook(source: str) -> subprocess.CompletedProcess[str]:
    script = (
        f"const {{ lazyIndex }} = require({json.dumps(str(NODE_HOOK))});"
        "let s = ''; process.stdin.on('data', (d) => (s += d));"
        "process.stdin.on('end', () => process.stdout.write(lazyIndex(s, 'index.js')));"
    )
    node = Path(os.environ.get("JSII_NODE", "node"))
    return subprocess.run([str(node), "-e", script], input=source, capture_output=True, text=True, timeout=60)


def test_node_half_turns_requires_into_getters() -> None:
    source = '"use strict";\n' + "".join(f'exports.m{i} = require("./m-{i}");\n' for i in range(1200))
    done = _node_hook(source)
    assert done.returncode == 0, done.stderr
    assert "exports.m7 = require" not in done.stdout
    assert 'Object.defineProperty(exports, "m7", { enumerable: true, configurable: true, get() {' in done.stdout
    assert done.stdout.count("require(") == 1200  # each still there, inside its getter


def test_node_half_fails_loudly_on_a_changed_index() -> None:
    source = "".join(f'exports.m{i} = require("./m-{i}");\n' for i in range(1200)) + 'require("./side-effect");\n'
    done = _node_hook(source)
    assert done.returncode != 0
    assert "changed (1200 of 1201 requires match" in done.stderr


@pytest.mark.xdist_group("fresh")  # with the staleness test: the `fresh_synthesis` fixture is made once
def test_same_synthesis_with_and_without_the_mechanism(fresh_synthesis: ProcessSynthesis, tmp_path: Path) -> None:
    lazy = fresh_synthesis  # the project's defaults: the mechanism on
    eager = synthesise_in_new_process(tmp_path / "eager", STORE2018_PROVIDER_IMPORT="eager")
    assert (lazy.provider_import, eager.provider_import) == ("lazy", "eager")
    assert 0 < lazy.provider_submodules < 60, lazy
    assert eager.provider_submodules > 2000, eager
    assert str(NODE_HOOK) in lazy.node_options and str(NODE_HOOK) not in eager.node_options
    lazy_files, eager_files = all_files(lazy.outdir), all_files(eager.outdir)
    assert sorted(lazy_files) == ["manifest.json", "stacks/bootstrap/cdk.tf.json", "stacks/store2018/cdk.tf.json"]
    assert tree_differences(lazy_files, eager_files) == []
