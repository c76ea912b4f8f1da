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
#: the project, which prefixes every name (`ProjectSettings.name`; no trailing '-': AWS refuses a load
#: balancer name `<environment>-<project>` that ends in one);
PROJECT_NAME = re.compile(r"[a-z][a-z0-9-]{0,14}[a-z0-9]")
#: an environment, which is also a Terraform workspace;
ENVIRONMENT_NAME = re.compile(r"[a-z][a-z0-9]{1,9}")
#: a service of the catalog, which also names its construct ids;
SERVICE_NAME = re.compile(r"[a-z][a-z0-9]{1,14}")
#: a DNS label: a Cloud Map name or a DNS record's name.
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

#: Environment names that would make names AWS or Terraform refuse, with the reason.
RESERVED_ENVIRONMENT_NAMES = {
    "default": "'default' is Terraform's implicit workspace and is refused on purpose, so that nobody deploys "
    "by accident",
    "internal": "a load balancer's name may not begin with 'internal-' (it would be '<environment>-<project>')",
    "sg": "a security group's name may not begin with 'sg-' (it would be '<environment>-<project>-alb')",
}


def resource_name(workspace: str, project: str, *parts: str) -> str:
    """`<workspace>-<project>-<parts...>`, e.g. `prod-store2018-cluster`: the two workspaces never collide."""
    return "-".join((workspace, project, *parts))
