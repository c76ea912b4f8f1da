"""Nothing Terraform cannot parse is published: the synthesis's templates, parsed by the real Terraform."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import IN_CI, SETTINGS, settings_with

from local.emulated import SYNTH_STACK_DIR, read_synthesis
from store2018 import service
from store2018.app import SynthesisRefused, synthesise
from store2018.parse_check import parse_problems, templates


@pytest.fixture
def terraform() -> None:
    if shutil.which("terraform") is None:
        if IN_CI:
            pytest.fail("terraform must be on PATH under CI=true")
        pytest.skip("terraform is not on PATH")


def test_the_committed_synthesis_parses(terraform: None) -> None:
    documents = {"store2018": read_synthesis(SYNTH_STACK_DIR)}
    assert sum(1 for _ in templates(documents["store2018"])) > 100  # it really reads the templates
    result = parse_problems(documents)
    assert (result.problems, result.warnings) == ([], [])


def test_a_template_that_does_not_parse_is_named_with_where_it_sits(terraform: None) -> None:
    broken = '${jsonencode([{"name" = "a"b"}])}'
    documents = {"s": {"resource": {"aws_x": {"y": {"a": broken, "ok": "${aws_vpc.v.id}"}}}}}
    (problem,) = parse_problems(documents).problems
    assert problem.startswith("[terraform-parse] s: resource.aws_x.y.a: Missing")


def test_the_backend_block_is_not_a_template() -> None:
    assert list(templates({"terraform": {"backend": {"s3": {"key": "st${x}"}}}, "locals": {"a": "%{x}"}})) == [
        ("locals.a", "%{x}")
    ]


def test_without_terraform_the_synthesis_says_it_was_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = parse_problems({"s": {"locals": {"a": '${"'}}})
    assert result.problems == [] and "templates were not parsed" in result.warnings[0]


def test_an_unparseable_synthesis_is_refused_and_writes_nothing(
    terraform: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the escaping removed, a quote in an environment value breaks the container definitions: the
    parse check refuses the synthesis before it reaches the output folder."""
    monkeypatch.setattr(service, "expression_string", lambda v: v)
    spec = replace(SETTINGS.services["account"], environment={"A": 'a"b'})
    broken = settings_with(services={**SETTINGS.services, "account": spec})
    outdir = tmp_path / "terraform"
    outdir.mkdir()
    (outdir / "marker").write_text("untouched")
    with pytest.raises(SynthesisRefused, match=r"\[terraform-parse\] store2018: resource\.aws_ecs_task_definition"):
        synthesise(broken, outdir)
    assert [p.name for p in tmp_path.iterdir()] == ["terraform"]  # no scratch folder left
    assert json.dumps(sorted(p.name for p in outdir.iterdir())) == '["marker"]'
