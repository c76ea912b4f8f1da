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


def test_https_skips_cover_only_workspaces_without_a_certificate_and_the_synthesis() -> None:
    table = gate.environments()
    skips = [s for s in gate.load_skips(table=table) if s.check in ("CKV_AWS_2", "CKV_AWS_103", "CKV2_AWS_20")]
    assert len(skips) == 3
    for skip in skips:
        resource = skip.resources[0]
        assert skip.covers(gate.Scan("synthesis"), skip.check, resource)
        for workspace, values in table.items():
            assert bool(skip.covers(gate.Scan(f"plan {workspace}", values), skip.check, resource)) is (
                not values["https_enabled"]
            )
        with_certificate = {**table["prod"], "https_enabled": True}
        assert not skip.covers(gate.Scan("plan prod", with_certificate), skip.check, resource)


def test_a_skip_with_when_covers_the_synthesis_only_if_it_says_so() -> None:
    plans_only = gate.Skip("CKV_X", ("x",), "reason", (), (("https_enabled", False),))
    assert not plans_only.covers(gate.Scan("synthesis"), "CKV_X", "x")
    assert plans_only.covers(gate.Scan("plan a", {"https_enabled": False}), "CKV_X", "x") == "x"


def test_each_resource_pattern_of_a_skip_must_still_cover_a_failure() -> None:
    """A service that turns read_only_root_filesystem on leaves the skip's list: its pattern is reported stale."""
    skip = gate.Skip("CKV_AWS_336", ("service_account_task", "service_inventory_task"), "reason", ("plan",))
    used: gate.Used = {(skip, p) for p in [skip.covers(gate.Scan("plan prod", {}), "CKV_AWS_336",
                                                       "service_inventory_task")] if p}  # fmt: skip
    assert gate.stale_patterns([skip], used) == {skip: ["service_account_task"]}
    used.add((skip, "service_account_task"))
    assert gate.stale_patterns([skip], used) == {}


def test_a_skip_for_plans_over_a_state_covers_and_is_judged_only_there() -> None:
    """The pipeline's plans run over existing state and show computed values a first plan does not."""
    update_only = gate.Skip("CKV_AWS_385", ("alarm_topic_*",), "r", scans=("update",))
    every_plan = gate.Skip("CKV_AWS_336", ("service_*_task",), "r", scans=("plan",))
    first, update = gate.Scan("plan prod", {}), gate.Scan("update prod", {})
    assert update_only.covers(update, "CKV_AWS_385", "alarm_topic_policy") == "alarm_topic_*"
    assert update_only.covers(first, "CKV_AWS_385", "alarm_topic_policy") is None
    assert every_plan.covers(update, "CKV_AWS_336", "service_account_task") == "service_*_task"
    # `make scan` plans first deploys: an update-only skip is not stale there; `make gate` over updates judges it.
    assert gate.stale_patterns([update_only], set(), {"synthesis", "plan"}) == {}
    assert gate.stale_patterns([update_only], set(), {"synthesis", "update"}) == {update_only: ["alarm_topic_*"]}
