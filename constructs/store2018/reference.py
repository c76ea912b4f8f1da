"""The README's settings reference, generated from the settings' own declarations: every field's
name, type, default, how its text reaches Terraform (`terraform_text.TREATMENTS`) and description
(its docstring in `settings.py`). The values themselves are in `environments.py` and `catalog.py`.

    make docs        rewrites the reference in README.md, between its two markers

`tests/test_readme.py` fails when the README's copy is stale. A new field needs only its
declaration and docstring in `settings.py` (and its treatment, if it holds text): the reference follows.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from store2018 import settings as settings_module
from store2018.settings import (
    AlarmThresholds,
    Alerting,
    CapacityMix,
    ContainerHealthCheck,
    EnvironmentSettings,
    ProjectSettings,
    Secret,
    ServiceOverrides,
    ServiceSpec,
    StateBackendSettings,
    TaskCount,
)
from store2018.terraform_text import TREATMENTS

BEGIN = "<!-- BEGIN settings reference: generated from constructs/store2018/settings.py by `make docs` -->"
END = "<!-- END settings reference -->"


def field_docs() -> dict[str, dict[str, str]]:
    """Each settings class's field docstrings (the string literal right after a field), by class and field."""
    tree = ast.parse(Path(inspect.getfile(settings_module)).read_text())
    docs: dict[str, dict[str, str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = docs.setdefault(node.name, {})
        for statement, following in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                fields[statement.target.id] = " ".join(inspect.cleandoc(following.value.value).split())
    return docs


def python(value: Any) -> str:
    """A value as it would be written in the settings files."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{f.name}={python(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{python(k)}: {python(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(python(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def code(value: Any) -> str:
    return cell(f"`{python(value)}`")


def fields_table(cls: type, docs: Mapping[str, str]) -> list[str]:
    """One row per field: name, type, default, how its text reaches Terraform, description."""
    rows = ["| name | type | default | text in Terraform | description |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        default = _default(f)
        treatment = TREATMENTS.get(f"{cls.__name__}.{f.name}")
        cells = [
            f"`{f.name}`",
            cell(f"`{f.type}`"),
            "(required)" if default is dataclasses.MISSING else code(default),
            treatment.describe() if treatment else "",
            cell(docs.get(f.name, "")),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


# Where each class's entries are written, in the order a reader meets them.
SECTIONS = (
    (ProjectSettings, "Written as `project()` in `constructs/store2018/environments.py`."),
    (StateBackendSettings, "Written as `project().state_backend`."),
    (EnvironmentSettings, "Written as one entry of `environments()` in `constructs/store2018/environments.py`."),
    (TaskCount, "Written as `EnvironmentSettings.tasks` or `ServiceOverrides.tasks`."),
    (CapacityMix, "Written as `EnvironmentSettings.capacity`."),
    (ServiceOverrides, "Written as an entry of `EnvironmentSettings.services`."),
    (ServiceSpec, "Written as one entry of `services()` in `constructs/store2018/catalog.py`."),
    (Alerting, "Written as `EnvironmentSettings.alerting`."),
    (AlarmThresholds, "Written as `ServiceSpec.alarms` or `ServiceOverrides.alarms`."),
    (ContainerHealthCheck, "Written as `ServiceSpec.container_health_check`."),
    (Secret, "Written as a value of `ServiceSpec.secrets` or `ServiceOverrides.secrets`."),
)


def reference() -> str:
    """The settings reference as Markdown."""
    docs = field_docs()
    lines = [BEGIN, ""]
    for cls, where in SECTIONS:
        lines += [
            f"**`{cls.__name__}`**: {inspect.getdoc(cls)} {where}",
            "",
            *fields_table(cls, docs[cls.__name__]),
            "",
        ]
    lines.append(END)
    return "\n".join(lines)


def replace_section(readme: str, generated: str) -> str:
    """`readme` with the text between (and including) the markers replaced by `generated`."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no section between {BEGIN!r} and {END!r}")
    return readme[:start] + generated + readme[end + len(END) :]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m store2018.reference README.md", file=sys.stderr)
        return 2
    readme = Path(argv[0])
    readme.write_text(replace_section(readme.read_text(), reference()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
