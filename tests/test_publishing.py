"""Publishing is whole and exclusive, and never costs a user their Terraform run files.

Each test runs `python main.py` (what `make synth` runs) in a copy of the project, as a user would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import all_files, command_env, project_copy, tree_hash

from local.emulated import ROOT
from store2018.publishing import exclusive, journal_path

MAIN = [sys.executable, "main.py"]
ENVIRONMENTS = "constructs/store2018/environments.py"


def run(project: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(MAIN, cwd=project, env=command_env(), capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def changed_project(folder: Path) -> Path:
    """A copy whose settings differ from the committed synthesis (prod's flow logs kept 60 days)."""
    project = project_copy(folder)
    path = project / ENVIRONMENTS
    path.write_text(path.read_text().replace("flow_log_retention_days=90,", "flow_log_retention_days=60,", 1))
    return project


@pytest.fixture(scope="module")
def changed_synthesis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What a complete synthesis of the changed settings writes."""
    project = changed_project(tmp_path_factory.mktemp("reference") / "project")
    run(project)
    return all_files(project / "terraform")


def generated(outdir: Path) -> dict[str, bytes]:
    return {
        name: data
        for name, data in all_files(outdir).items()
        if name == "manifest.json" or name.endswith("cdk.tf.json")
    }


def test_a_second_synthesis_is_refused_while_one_holds_the_lock(tmp_path: Path) -> None:
    project = changed_project(tmp_path / "project")
    before = tree_hash(project / "terraform")
    with exclusive(project / "terraform"):
        done = run(project, check=False)
    assert done.returncode == 1
    assert f"Synthesis refused: another synthesis (pid {os.getpid()}) is writing terraform" in done.stderr
    assert "Nothing was written to terraform." in done.stderr
    assert tree_hash(project / "terraform") == before


def start(project: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(MAIN, cwd=project, env=command_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def wait_for_scratch(project: Path, started: subprocess.Popen[str]) -> None:
    """Until the synthesis is writing its scratch folder: it holds the lock and has read its settings."""
    deadline = time.monotonic() + 120
    while not list(project.glob(".terraform.synth-*")):
        assert started.poll() is None and time.monotonic() < deadline, "the synthesis ended first"
        time.sleep(0.005)


def test_a_second_synth_with_other_settings_is_refused_and_cannot_interleave(
    tmp_path: Path, changed_synthesis: dict[str, bytes]
) -> None:
    """The first synthesis writes the changed settings; while it runs, the settings change again and a
    second one starts: it is refused, and terraform/ holds the first one's files only."""
    project = changed_project(tmp_path / "project")
    first = start(project)
    wait_for_scratch(project, first)
    path = project / ENVIRONMENTS
    path.write_text(path.read_text().replace("log_retention_days=30,", "log_retention_days=60,", 1))
    second = start(project)
    assert second.wait(timeout=300) == 1 and first.wait(timeout=300) == 0
    assert "Synthesis refused: another synthesis (pid" in (second.stderr.read() if second.stderr else "")
    assert generated(project / "terraform") == changed_synthesis


def test_a_synthesis_killed_before_publishing_changes_nothing(
    tmp_path: Path, changed_synthesis: dict[str, bytes]
) -> None:
    project = changed_project(tmp_path / "project")
    before = tree_hash(project / "terraform")
    started = start(project)
    wait_for_scratch(project, started)
    started.send_signal(signal.SIGKILL)
    started.wait(timeout=30)
    assert tree_hash(project / "terraform") == before
    assert list(project.glob(".terraform.synth-*")), "the killed synthesis left its scratch folder"

    done = run(project)
    assert "note: removed .terraform.synth-" in done.stdout and "left by a synthesis that was stopped" in done.stdout
    assert not list(project.glob(".terraform.synth-*"))
    assert generated(project / "terraform") == changed_synthesis


MOVE_WITH_A_SIGTERM = """
import os, signal, sys, threading, time
from pathlib import Path
sys.path.insert(0, "constructs")
from store2018 import publishing
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()  # as jsii's threads do: a second thread
journal, outdir = Path(sys.argv[1]), Path(sys.argv[2])
real_replace, moved = os.replace, []
def replace(source, target):
    real_replace(source, target)
    moved.append(target)
    if len(moved) == 1:
        os.kill(os.getpid(), signal.SIGTERM)  # in the middle of the move
        time.sleep(0.2)  # time enough for a default SIGTERM to end the process here
os.replace = replace
publishing._move_in(journal, outdir)
print("the process outlived its SIGTERM")
"""


def test_a_sigterm_in_the_middle_of_a_publish_waits_for_its_end(
    tmp_path: Path, changed_synthesis: dict[str, bytes]
) -> None:
    journal, outdir = tmp_path / "journal", tmp_path / "terraform"
    for name, data in changed_synthesis.items():
        (journal / name).parent.mkdir(parents=True, exist_ok=True)
        (journal / name).write_bytes(data)
    done = subprocess.run([sys.executable, "-c", MOVE_WITH_A_SIGTERM, str(journal), str(outdir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == -signal.SIGTERM, done  # delivered, once the move was over...
    assert "outlived" not in done.stdout
    assert generated(outdir) == changed_synthesis  # ...which was whole


def test_an_interrupted_publish_is_finished_before_anything_else(
    tmp_path: Path, changed_synthesis: dict[str, bytes]
) -> None:
    """Killed while moving files in (a window SIGKILL alone can hit): the next run, even one whose
    settings are broken, first finishes that publish, so terraform/ never stays a mix of two syntheses."""
    project = project_copy(tmp_path / "project")
    journal = journal_path(project / "terraform")
    journal.mkdir()
    for name, data in changed_synthesis.items():  # the complete synthesis, as `publish` renames it
        (journal / name).parent.mkdir(parents=True, exist_ok=True)
        (journal / name).write_bytes(data)
    moved = "stacks/store2018/cdk.tf.json"  # one file was moved in before the kill
    os.replace(journal / moved, project / "terraform" / moved)
    (project / ENVIRONMENTS).write_text((project / ENVIRONMENTS).read_text().replace("az_count=2,", "az_count=2"))

    done = run(project, check=False)
    assert done.returncode == 2 and "SyntaxError" in done.stderr  # the settings are refused...
    assert "note: finished publishing an interrupted synthesis into terraform" in done.stdout
    assert generated(project / "terraform") == changed_synthesis  # ...after the interrupted publish was finished
    assert not journal.exists()


def test_run_files_stay_and_override_files_are_named(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    stacks = project / "terraform" / "stacks"
    removed = stacks / "old"  # a stack the app no longer produces
    (removed / ".terraform").mkdir(parents=True)
    for name in ("cdk.tf.json", "terraform.tfstate", ".terraform/marker", "keep_override.tf.json"):
        (removed / name).write_text("{}")
    (stacks / "store2018" / ".terraform").mkdir()
    (stacks / "store2018" / ".terraform" / "marker").write_text("terraform init ran here")
    (stacks / "store2018" / "lift_override.tf.json").write_text("{}")

    done = run(project)
    assert not (removed / "cdk.tf.json").exists()
    assert all((removed / n).exists() for n in ("terraform.tfstate", ".terraform/marker", "keep_override.tf.json"))
    assert (stacks / "store2018" / ".terraform" / "marker").exists()
    for override in ("old/keep_override.tf.json", "store2018/lift_override.tf.json"):
        assert f"warning: terraform/stacks/{override} changes what Terraform applies there" in done.stdout
    assert done.stderr == ""


def test_cdktf_synth_writes_the_same_bytes_and_removes_what_the_app_keeps(tmp_path: Path) -> None:
    """The CLI runs the same app, then deletes the folders of stacks the app no longer produces, run files
    included, after the app (and its lock) are gone: which is why `make synth` runs the app directly."""
    project = project_copy(tmp_path / "project")
    removed = project / "terraform" / "stacks" / "old"
    removed.mkdir()
    (removed / "terraform.tfstate").write_text("{}")
    (project / "terraform" / "stacks" / "store2018" / "cdk.tf.json").write_text("{}")  # stale
    cdktf = [str(ROOT / "node_modules" / ".bin" / "cdktf"), "synth"]
    done = subprocess.run(cdktf, cwd=project, env=command_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert generated(project / "terraform") == generated(ROOT / "terraform")
    assert not removed.exists()
    shutil.rmtree(project)
