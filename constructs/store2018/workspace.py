"""Workspace selection: the one place that turns `terraform.workspace` into settings.

One synthesised artefact serves every workspace. The environments table is emitted as
`local.environments`; `local.environment` is the entry of the selected workspace. Constructs
read it through `WorkspaceSelection.string/number/string_list` and never write `${...}` strings.

In a workspace with no entry (including `default`) the lookup falls back to the first entry,
so that `terraform validate` stays green, and the `terraform_data.workspace_guard`
precondition stops every plan with a message that names the workspace and the allowed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdktf import (
    DataResource,
    Fn,
    IResolvable,
    Precondition,
    TerraformResourceLifecycle,
    Token,
)
from constructs import Construct

from store2018.expressions import named_local


class WorkspaceSelection(Construct):
    """Emits the environments table and selects the current workspace's entry."""

    def __init__(
        self, scope: Construct, construct_id: str, *, project: str, environments: Mapping[str, Mapping[str, Any]]
    ) -> None:
        super().__init__(scope, construct_id)
        names = list(environments)
        self.allowed = names
        self._keys = frozenset().union(*(entry.keys() for entry in environments.values()))

        table = named_local(self, "environments", dict(environments))
        workspace = named_local(self, "workspace", "${terraform.workspace}")
        # Falls back to a known entry so that `validate` works in any workspace; the guard refuses the plan.
        self._selected = named_local(
            self, "environment", Fn.lookup(table.as_any_map, workspace.as_string, Fn.lookup(table.as_any_map, names[0]))
        )
        #: The selected workspace's name, as a Terraform expression.
        self.name: str = workspace.as_string
        self._prefix = f"{self.name}-{project}"

        allowed = ", ".join(names)
        guard = DataResource(
            self,
            "guard",
            lifecycle=TerraformResourceLifecycle(
                precondition=[
                    Precondition(
                        condition=Fn.contains(Fn.keys(table.as_any_map), workspace.as_string),
                        error_message=(
                            f'Workspace "{self.name}" has no entry in the environments table '
                            f"(constructs/store2018/config.py). Allowed workspaces: {allowed}. Select one with "
                            f"`terraform workspace select -or-create {names[0]}`, or add an entry to the table."
                        ),
                    )
                ]
            ),
        )
        guard.override_logical_id("workspace_guard")

    def _get(self, key: str, *path: str) -> Any:
        if key not in self._keys:
            raise KeyError(f"environment setting {key!r} is not in the environments table; known: {sorted(self._keys)}")
        value = Fn.lookup(self._selected.as_any_map, key)
        for part in path:  # nested entries, e.g. ("services", "account", "min_tasks")
            value = Fn.lookup(value, part)
        return value

    def string(self, key: str, *path: str) -> str:
        """This workspace's value of a string setting, e.g. `string("vpc_cidr")`."""
        return Token.as_string(self._get(key, *path))

    def number(self, key: str, *path: str) -> float:
        return Token.as_number(self._get(key, *path))

    def boolean(self, key: str, *path: str) -> IResolvable:
        return Token.as_any(self._get(key, *path))

    def string_list(self, key: str, *path: str) -> list[str]:
        return Token.as_list(self._get(key, *path))

    def resource_name(self, *parts: str) -> str:
        """The name of a cloud resource: `<workspace>-<project>-<parts...>`, e.g. `prod-store2018-vpc`."""
        return "-".join((self._prefix, *parts))
