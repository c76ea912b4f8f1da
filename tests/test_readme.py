"""The README's settings reference is generated from the settings' declarations and must be current."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import SETTINGS

from local.emulated import ROOT
from store2018.reference import BEGIN, END, field_docs, reference, replace_section
from store2018.settings import (
    CapacityMix,
    EnvironmentSettings,
    ProjectSettings,
    ServiceOverrides,
    ServiceSpec,
    StateBackendSettings,
    TaskCount,
)

README = ROOT / "README.md"


def section(text: str) -> str:
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def test_the_readme_reference_is_current() -> None:
    assert section(README.read_text()) == reference(SETTINGS), (
        "README.md's settings reference is stale: run `make docs` and commit README.md"
    )


def test_a_stale_reference_is_caught() -> None:
    stale = README.read_text().replace("| `vpc_cidr` | `str` |", "| `vpc_cidr` | `int` |", 1)
    assert section(stale) != reference(SETTINGS)
    assert section(replace_section(stale, reference(SETTINGS))) == reference(SETTINGS)


@pytest.mark.parametrize(
    "cls",
    [ProjectSettings, StateBackendSettings, EnvironmentSettings, TaskCount, CapacityMix, ServiceOverrides, ServiceSpec],
)
def test_every_field_has_a_description(cls: type) -> None:
    docs = field_docs()[cls.__name__]
    assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)] == []


def test_the_reference_shows_every_environment_as_a_column() -> None:
    qa = dataclasses.replace(SETTINGS, environments={**SETTINGS.environments,
                                                     "qa": EnvironmentSettings(vpc_cidr="10.9.0.0/16")})  # fmt: skip
    assert "| name | type | default | prod | staging | qa | description |" in reference(qa)
