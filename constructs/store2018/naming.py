"""Names of cloud resources: the one format, and the limits AWS puts on them.

Pure (no cdktf): the constructs name resources with it (through `WorkspaceSelection.resource_name`,
where the workspace is a Terraform expression) and the settings' validation checks, per
environment, that the longest names fit.
"""

from __future__ import annotations

# AWS caps load balancer and target group names at 32 characters.
LOAD_BALANCER_NAME_LIMIT = 32


def resource_name(workspace: str, project: str, *parts: str) -> str:
    """`<workspace>-<project>-<parts...>`, e.g. `prod-store2018-cluster`: the two workspaces never collide."""
    return "-".join((workspace, project, *parts))
