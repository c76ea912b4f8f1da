"""The checkov gate's own logic (security/checkov_gate.py): how findings meet the reviewed skips.
The gate itself runs in CI (`make scan`), with checkov in its own virtual environment."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from tfharness import ROOT

spec = importlib.util.spec_from_file_location("checkov_gate", ROOT / "security" / "checkov_gate.py")
assert spec and spec.loader
gate = importlib.util.module_from_spec(spec)
sys.modules["checkov_gate"] = gate  # dataclasses look their module up while the file runs
spec.loader.exec_module(gate)


@pytest.mark.parametrize(
    ("reported", "construct_id"),
    [
        ("resource.network_alb_ingress_80_6B9ED1FD", "network_alb_ingress_80"),  # synthesis scan
        ("aws_eip.network_nat_eip_333844B5[1]", "network_nat_eip"),  # plan scan, counted
        ("aws_lb.load_balancer_alb_027FD642", "load_balancer_alb"),
        ("data.network_zones_2241F3F0", "network_zones"),
    ],
)
def test_findings_are_matched_by_construct_id(reported: str, construct_id: str) -> None:
    assert gate.construct_id(reported) == construct_id


def test_a_skip_covers_only_its_check_resources_and_scans() -> None:
    skip = gate.Skip("CKV_AWS_150", ("load_balancer_alb",), "staging only", ("plan staging",))
    assert skip.covers("plan staging", "CKV_AWS_150", "load_balancer_alb")
    assert not skip.covers("plan prod", "CKV_AWS_150", "load_balancer_alb")
    assert not skip.covers("plan staging", "CKV_AWS_91", "load_balancer_alb")
    assert not skip.covers("plan staging", "CKV_AWS_150", "load_balancer_target_account")


def test_the_reviewed_skip_list_is_short_and_every_entry_has_a_reason() -> None:
    skips = gate.load_skips()
    assert 0 < len(skips) <= gate.MAX_SKIPS
    assert all(len(s.reason) > 20 for s in skips)


def test_a_skip_list_over_the_cap_is_refused(tmp_path: Path) -> None:
    entry = '[[skip]]\ncheck = "CKV_X"\nresources = ["x"]\nreason = "because"\n'
    (tmp_path / "skips.toml").write_text(entry * (gate.MAX_SKIPS + 1))
    with pytest.raises(SystemExit, match="cap"):
        gate.load_skips(tmp_path / "skips.toml")
