"""The project's folder `constructs/` must never shadow the `constructs` library."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import constructs
from conftest import tracked_files

import store2018
from local.emulated import ROOT


def test_constructs_folder_is_not_a_package() -> None:
    assert not (ROOT / "constructs" / "__init__.py").exists(), (
        "constructs/__init__.py shadows the `constructs` library that cdktf imports; remove it"
    )


def test_constructs_resolves_to_the_library_and_store2018_to_ours() -> None:
    assert constructs.__file__ is not None
    assert (ROOT / "constructs") not in Path(constructs.__file__).parents
    assert hasattr(constructs, "Construct")
    assert Path(store2018.__file__).parent == ROOT / "constructs" / "store2018"


def test_synthesis_folder_holds_only_what_synthesis_writes() -> None:
    assert sorted(tracked_files(ROOT / "terraform")) == [
        "manifest.json",
        "stacks/bootstrap/cdk.tf.json",
        "stacks/store2018/cdk.tf.json",
    ]


def test_terraform_run_files_beside_the_synthesis_are_ignored_by_git() -> None:
    run_files = [
        "terraform/stacks/store2018/.terraform/terraform.tfstate",
        "terraform/stacks/store2018/.terraform.lock.hcl",
        "terraform/stacks/store2018/terraform.tfstate",
        "terraform/stacks/store2018/emulator_override.tf.json",
        "terraform/stacks/store2018/staging.tfplan",
        "terraform/stacks/bootstrap/lift_protection_override.tf.json",
        "state-bootstrap/terraform.tfstate",
        ".local/emulator.json",
    ]
    ignored = subprocess.run(["git", "check-ignore", *run_files], cwd=ROOT, capture_output=True, text=True).stdout
    assert ignored.split() == run_files


PACKAGE = ROOT / "constructs" / "store2018"
# Modules that must import nothing of cdktf or jsii: the settings, their checks and loading, and the
# publishing steps that run before jsii starts.
PURE = {"aws_regions", "catalog", "checks", "environments", "loading", "naming", "network_layout", "parse_check",
        "pipeline_policies", "publishing", "reference", "releases", "settings", "terraform_text"}  # fmt: skip
CDKTF = {"cdktf", "cdktf_cdktf_provider_aws", "constructs", "jsii"}


def imports(module: str) -> set[str]:
    """The top-level names (and `store2018.<module>` names) a module of the package imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name if alias.name.startswith("store2018.") else alias.name.split(".")[0]
                      for alias in node.names}  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "store2018":
                found |= {f"store2018.{alias.name}" for alias in node.names}
            elif node.module.startswith("store2018."):
                found.add(node.module)
            else:
                found.add(node.module.split(".")[0])
    return found


def modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_no_domain_module_imports_the_toolchain_and_the_settings_import_no_cdktf() -> None:
    for module in modules():
        assert "toolchain" not in imports(module), module
        if module in PURE:
            assert not imports(module) & CDKTF, (module, imports(module) & CDKTF)
            assert {m.removeprefix("store2018.") for m in imports(module) if m.startswith("store2018.")} <= PURE, module


def test_the_package_imports_flow_down_the_readme_layout_without_cycles() -> None:
    """The README lists the package's modules so that each imports only modules listed below it."""
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("constructs/store2018/   our construct package") : readme.index("toolchain/  ")]
    order = re.findall(r"^  (\w+)\.py ", block, flags=re.M)
    assert sorted(order) == modules(), "the README's Layout must list every module of the package"
    for position, module in enumerate(order):
        if module in ("environments", "catalog"):  # the values: run by loading.py, listed first for readers
            continue
        below = set(order[position + 1 :])
        used = {m.removeprefix("store2018.") for m in imports(module) if m.startswith("store2018.")}
        assert used <= below, f"{module} imports {sorted(used - below)}, listed above it (or itself)"
