"""terraform/ is the committed synthesis and the project's golden snapshot: it must be current."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import all_files, synthesise_in_new_process, tracked_files, tree_differences

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "terraform"


@pytest.fixture(scope="module")
def fresh_synthesis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python main.py` with the project's defaults, as a new process, into a temporary folder."""
    return synthesise_in_new_process(tmp_path_factory.mktemp("synth")).outdir


def test_committed_synthesis_is_current(fresh_synthesis: Path) -> None:
    differences = tree_differences(tracked_files(COMMITTED), all_files(fresh_synthesis))
    assert not differences, "terraform/ is stale; run `make synth` and commit it:\n" + "\n".join(differences)


def test_staleness_check_catches_a_changed_copy(fresh_synthesis: Path, tmp_path: Path) -> None:
    mutated = dict(tracked_files(COMMITTED))
    stack = "stacks/store2018/cdk.tf.json"
    mutated[stack] = mutated[stack].replace(b'"192.168.0.0/16"', b'"192.168.0.0/17"', 1)
    assert tree_differences(mutated, all_files(fresh_synthesis)) == [f"differs: {stack}"]
    del mutated["manifest.json"]
    assert "not committed: manifest.json" in tree_differences(mutated, all_files(fresh_synthesis))
