"""Store2018 on AWS ECS Fargate: the project's CDKTF constructs.

Layout: `config` (every setting and the environments table, validated), `catalog` (the
services), `workspace` (per-workspace selection and resource names), `network`,
`load_balancer`, `cluster`, `service` (one Fargate service), `stack` (wires them with the
provider and the S3 backend), `app` (the entry point `main.py` calls).
`bootstrap` runs first: it must precede any import of cdktf.
"""

from store2018 import bootstrap  # noqa: F401

# isort: split
from store2018.catalog import SERVICES, ServiceSpec
from store2018.config import (
    ENVIRONMENTS,
    CapacityMix,
    ConfigError,
    EnvironmentSettings,
    NatGatewayMode,
    ProjectSettings,
    ServiceOverrides,
    StateBackendSettings,
    TaskCount,
)
from store2018.stack import Store2018Stack

__all__ = [
    "ENVIRONMENTS",
    "SERVICES",
    "CapacityMix",
    "ConfigError",
    "EnvironmentSettings",
    "NatGatewayMode",
    "ProjectSettings",
    "ServiceOverrides",
    "ServiceSpec",
    "StateBackendSettings",
    "Store2018Stack",
    "TaskCount",
]
