"""Names of cloud resources: the one format, and the limits AWS puts on them.

Pure (no cdktf): the constructs name resources with it (through `WorkspaceSelection.resource_name`,
where the workspace is a Terraform expression) and the settings' validation checks, per
environment, that the longest names fit.
"""

from __future__ import annotations

import re

# AWS caps load balancer and target group names at 32 characters.
LOAD_BALANCER_NAME_LIMIT = 32

# The parts of a name, each short enough that `<environment>-<project>-<service>` can fit the limit
# (the settings check the longest real combination against it):
#: the project, which prefixes every name (`ProjectSettings.name`);
PROJECT_NAME = re.compile(r"[a-z][a-z0-9-]{1,15}")
#: an environment, which is also a Terraform workspace;
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9]{1,9}")
#: a service of the catalog, which also names its construct ids;
SERVICE_NAME = re.compile(r"[a-z][a-z0-9]{1,14}")
#: a DNS label: a Cloud Map name or a DNS record's name.
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def resource_name(workspace: str, project: str, *parts: str) -> str:
    """`<workspace>-<project>-<parts...>`, e.g. `prod-store2018-cluster`: the two workspaces never collide."""
    return "-".join((workspace, project, *parts))
