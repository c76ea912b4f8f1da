"""Store2018 on AWS ECS Fargate: the project's CDKTF constructs.

Layout: `config` (every setting, validated), `workspace` (per-workspace selection and
resource names), `network` (VPC, subnets, NAT, security groups), `stack` (wires them
with the provider and the S3 backend), `app` (the entry point `main.py` calls).
`bootstrap` runs first: it must precede any import of cdktf.
"""

from store2018 import bootstrap  # noqa: F401

# isort: split
from store2018.config import ConfigError, EnvironmentSettings, NatGatewayMode, ProjectSettings, StateBackendSettings
from store2018.stack import Store2018Stack

__all__ = [
    "ConfigError",
    "EnvironmentSettings",
    "NatGatewayMode",
    "ProjectSettings",
    "StateBackendSettings",
    "Store2018Stack",
]
