"""The README's settings reference is generated from the settings' declarations and must be current."""

from __future__ import annotations

import dataclasses

import pytest

from local.emulated import ROOT
from store2018 import reference as generator
from store2018.reference import BEGIN, END, SECTIONS, field_docs, reference, replace_section

README = ROOT / "README.md"


def section(text: str) -> str:
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def test_the_readme_reference_is_current() -> None:
    assert section(README.read_text()) == reference(), (
        "README.md's settings reference is stale: run `make docs` and commit README.md"
    )


def test_a_changed_declaration_makes_the_reference_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = field_docs()
    docs["EnvironmentSettings"]["vpc_cidr"] = "A new description."
    monkeypatch.setattr(generator, "field_docs", lambda: docs)
    assert section(README.read_text()) != reference()
    assert "| `vpc_cidr` | `str` | (required) | refused if special (template) | A new description. |" in reference()
    assert section(replace_section(README.read_text(), reference())) == reference()


@pytest.mark.parametrize("cls", [cls for cls, _ in SECTIONS], ids=lambda cls: cls.__name__)
def test_every_field_has_a_description(cls: type) -> None:
    docs = field_docs()[cls.__name__]
    assert [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)] == []
