"""The project's folder `constructs/` must never shadow the `constructs` library."""

from __future__ import annotations

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
