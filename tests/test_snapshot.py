"""terraform/ is the committed synthesis and the project's golden snapshot: it must be current."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ProcessSynthesis, all_files, tracked_files, tree_differences

from local.emulated import ROOT

COMMITTED = ROOT / "terraform"


@pytest.mark.xdist_group("fresh")  # with the other user of the `fresh_synthesis` fixture: made once
def test_committed_synthesis_is_current(fresh_synthesis: ProcessSynthesis) -> None:
    differences = tree_differences(tracked_files(COMMITTED), all_files(fresh_synthesis.outdir))
    assert not differences, "terraform/ is stale; run `make synth` and commit it:\n" + "\n".join(differences)


@pytest.mark.xdist_group("fresh")
def test_staleness_check_catches_a_changed_copy(fresh_synthesis: ProcessSynthesis, tmp_path: Path) -> None:
    mutated = dict(tracked_files(COMMITTED))
    stack = "stacks/store2018/cdk.tf.json"
    mutated[stack] = mutated[stack].replace(b'"192.168.0.0/16"', b'"192.168.0.0/17"', 1)
    assert tree_differences(mutated, all_files(fresh_synthesis.outdir)) == [f"differs: {stack}"]
    del mutated["manifest.json"]
    assert "not committed: manifest.json" in tree_differences(mutated, all_files(fresh_synthesis.outdir))
