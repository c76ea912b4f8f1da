"""The checkov gate's own logic (security/checkov_gate.py): how findings meet the reviewed skips.
The gate itself runs in CI (`make scan`), with checkov in its own virtual environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SETTINGS

from security import checkov_gate as gate


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
    skip = gate.Skip("CKV_AWS_91", ("load_balancer_alb",), "reason", ("synthesis",))
    assert skip.covers(gate.Scan("synthesis"), "CKV_AWS_91", "load_balancer_alb")
    assert not skip.covers(gate.Scan("plan prod", {}), "CKV_AWS_91", "load_balancer_alb")
    assert not skip.covers(gate.Scan("synthesis"), "CKV_AWS_150", "load_balancer_alb")
    assert not skip.covers(gate.Scan("synthesis"), "CKV_AWS_91", "load_balancer_target_account")


def test_a_skip_about_a_setting_follows_the_setting_not_the_workspace_name() -> None:
    table = gate.environments()
    skip = next(s for s in gate.load_skips(table=table) if s.check == "CKV_AWS_150")
    assert skip.when == (("alb_deletion_protection", False),)
    covered = {ws for ws, values in table.items() if skip.covers(gate.Scan(f"plan {ws}", values), skip.check,
                                                                     "load_balancer_alb")}  # fmt: skip
    assert covered == {n for n, e in SETTINGS.environments.items() if not e.alb_deletion_protection}
    assert "staging" in covered and "prod" not in covered
    # A third environment without deletion protection is covered by its setting, with no edit to the skip list.
    assert skip.covers(gate.Scan("plan qa", {**table["prod"], "alb_deletion_protection": False}), skip.check,
                       "load_balancer_alb")  # fmt: skip
    assert not skip.covers(gate.Scan("synthesis"), skip.check, "load_balancer_alb")


def test_a_skip_about_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    entry = '[[skip]]\ncheck = "CKV_X"\nresources = ["x"]\nreason = "because"\nwhen = { alb_protection = false }\n'
    (tmp_path / "skips.toml").write_text(entry)
    with pytest.raises(SystemExit, match=r"`when` keys \['alb_protection'\] that no environment has"):
        gate.load_skips(tmp_path / "skips.toml")


def test_the_reviewed_skip_list_is_short_and_every_entry_has_a_reason() -> None:
    skips = gate.load_skips()
    assert 0 < len(skips) <= gate.MAX_SKIPS
    assert all(len(s.reason) > 20 for s in skips)


def test_a_skip_list_over_the_cap_is_refused(tmp_path: Path) -> None:
    entry = '[[skip]]\ncheck = "CKV_X"\nresources = ["x"]\nreason = "because"\n'
    (tmp_path / "skips.toml").write_text(entry * (gate.MAX_SKIPS + 1))
    with pytest.raises(SystemExit, match="cap"):
        gate.load_skips(tmp_path / "skips.toml")
