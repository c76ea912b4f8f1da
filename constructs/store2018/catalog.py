"""The service catalog: every Store2018 service declared once. Edit here to add or change a service.

Everything per service (log group, roles, task definition, Cloud Map entry, ECS service, scaling,
and a target group and path rule when it is exposed) is built from its `ServiceSpec` entry. What
differs between workspaces (task counts, image tags) lives in the environments table
(`environments.py`). The fields, their types and defaults: `settings.ServiceSpec`, or the README's
settings reference.
"""

from __future__ import annotations

from collections.abc import Mapping

from store2018.checks import table
from store2018.settings import ServiceSpec


def services() -> Mapping[str, ServiceSpec]:
    """The course's four services: ports, health checks and Cloud Map names as in the course.
    One `(name, ServiceSpec(...))` pair per service (a name given twice is refused). Append new
    entries: the load balancer's path-rule priorities follow this order."""
    return table(
        "SERVICES",
        ("account", ServiceSpec(
            image="jeremycookdev/accountservice",
            discovery_name="api-account",
            health_check_path="/api/healthcheck",
            api_base_path="/api",
            public_paths=("/api/consumers*",),
        )),
        ("inventory", ServiceSpec(
            image="jeremycookdev/inventoryservice",
            discovery_name="api-inventory",
            health_check_path="/api/healthcheck",
            api_base_path="/api",
            public_paths=("/api/products*",),
        )),
        ("shopping", ServiceSpec(
            image="jeremycookdev/shoppingservice",
            discovery_name="api-shopping",
            health_check_path="/api/healthcheck",
            api_base_path="/api",
            public_paths=("/api/cart*",),
        )),
        ("store2018", ServiceSpec(
            image="jeremycookdev/store2018",
            discovery_name="app-store2018",
            health_check_path="/healthcheck",
            default_route=True,
            api_base_variables={
                "ACCOUNT_SERVICE_API_BASE": "account",
                "INVENTORY_SERVICE_API_BASE": "inventory",
                "SHOPPING_SERVICE_API_BASE": "shopping",
            },
        )),
    )  # fmt: skip
