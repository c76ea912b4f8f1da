"""The service catalog: every Store2018 service declared once, as typed data.

Everything per service (log group, roles, task definition, Cloud Map entry, ECS service,
scaling, and a target group when it is exposed) is built from one `ServiceSpec`.
What differs between workspaces (task counts, image tags) lives in the environments table
(`config.EnvironmentSettings`), not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from store2018.errors import check_types, fail, table

# CPU units -> memory sizes (MiB) Fargate accepts for Linux tasks.
FARGATE_SIZES: Mapping[int, tuple[int, ...]] = MappingProxyType(
    {
        256: (512, 1024, 2048),
        512: tuple(range(1024, 4096 + 1, 1024)),
        1024: tuple(range(2048, 8192 + 1, 1024)),
        2048: tuple(range(4096, 16384 + 1, 1024)),
        4096: tuple(range(8192, 30720 + 1, 1024)),
        8192: tuple(range(16384, 61440 + 1, 4096)),
        16384: tuple(range(32768, 122880 + 1, 8192)),
    }
)

# An ALB rule's path-pattern condition takes at most five values.
MAX_PATH_PATTERNS = 5

# Images whose registry is ECR need repository-scoped pull permissions on the execution role.
ECR_IMAGE = re.compile(r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>.+)")


@dataclass(frozen=True, kw_only=True)
class ServiceSpec:
    """One service of the application. The catalog key is its short name (e.g. `account`),
    which appears in resource names and construct ids: renaming it replaces its resources."""

    #: Image repository without a tag (the tag is per environment), e.g. `jeremycookdev/accountservice`.
    image: str
    #: The name other services use: `<discovery_name>.<namespace>`, e.g. `api-account.microservices.private`.
    discovery_name: str
    health_check_path: str
    container_port: int = 80
    cpu: int = 256
    memory_mib: int = 512
    #: Plain environment variables of the container.
    environment: Mapping[str, str] = field(default_factory=dict)
    #: Where this service's API lives, for services that others call: `http://<name>.<namespace><api_base_path>`.
    api_base_path: str = ""
    #: Variables that receive another service's API base URL: {variable: catalog key}.
    api_base_variables: Mapping[str, str] = field(default_factory=dict)
    #: Path patterns the load balancer forwards to this service (published when `expose_api_paths` is on).
    public_paths: tuple[str, ...] = ()
    #: The load balancer's default action forwards here (exactly one service: the web front end).
    default_route: bool = False
    #: Target tracking: average CPU of the service's tasks.
    cpu_target_percent: int = 60
    #: Target tracking for services behind the load balancer: requests per task per minute.
    requests_per_target: int = 1000

    def validate(self, name: str) -> None:
        where = f"SERVICES[{name!r}]"
        check_types(self, where)
        if self.cpu not in FARGATE_SIZES:
            fail(f"{where}.cpu", self.cpu, f"Fargate accepts CPU units {list(FARGATE_SIZES)}", "use 256 (0.25 vCPU)")
        if self.memory_mib not in FARGATE_SIZES[self.cpu]:
            sizes = FARGATE_SIZES[self.cpu]
            fail(
                f"{where}.memory_mib",
                self.memory_mib,
                f"with cpu={self.cpu} Fargate accepts {sizes[0]} to {sizes[-1]} MiB in steps of "
                f"{sizes[1] - sizes[0] if len(sizes) > 1 else sizes[0]} ({', '.join(map(str, sizes))})",
                "pick one of those sizes, or change cpu (e.g. cpu=256, memory_mib=512)",
            )
        if isinstance(self.container_port, bool) or not 1 <= self.container_port <= 65535:
            fail(f"{where}.container_port", self.container_port, "a TCP port from 1 to 65535", "use 80")
        if not self.health_check_path.startswith("/"):
            fail(
                f"{where}.health_check_path",
                self.health_check_path,
                "a URL path starting with '/'",
                "use e.g. '/api/healthcheck'",
            )
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", self.discovery_name):
            fail(
                f"{where}.discovery_name",
                self.discovery_name,
                "a DNS label: 1 to 63 lower-case letters, digits or hyphens",
                "use e.g. 'api-account'",
            )
        if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*", self.image) or (
            ":" in self.image.rsplit("/", 1)[-1]
        ):
            fail(
                f"{where}.image",
                self.image,
                "an image repository without a tag (tags are per environment: EnvironmentSettings.image_tag)",
                "use e.g. 'jeremycookdev/accountservice'",
            )
        for path in self.public_paths:
            if not re.fullmatch(r"/[A-Za-z0-9_.~/*?&=:%+@!$'()-]{0,127}", path):
                fail(
                    f"{where}.public_paths",
                    path,
                    "ALB path patterns: start with '/', at most 128 characters, letters, digits and "
                    "_-.$/~\"'@:+&()!,;=%*? only",
                    "use e.g. '/api/cart*'",
                )
        if len(self.public_paths) > MAX_PATH_PATTERNS:
            fail(
                f"{where}.public_paths",
                self.public_paths,
                f"at most {MAX_PATH_PATTERNS} patterns (the most an ALB rule's path condition takes)",
                "merge patterns with wildcards, e.g. '/api/*'",
            )
        for variable in (*self.environment, *self.api_base_variables):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", variable):
                fail(
                    f"{where}.environment",
                    variable,
                    "variable names of letters, digits and '_', not starting with a digit",
                    "rename it, e.g. 'API_BASE_URL'",
                )
        clash = set(self.environment) & set(self.api_base_variables)
        if clash:
            fail(
                f"{where}.api_base_variables",
                sorted(clash),
                "names not also set in `environment` (one would silently override the other)",
                "remove the variable from one of the two",
            )
        if not 1 <= self.cpu_target_percent <= 100:
            fail(f"{where}.cpu_target_percent", self.cpu_target_percent, "a percentage from 1 to 100", "use 60")
        if self.requests_per_target < 1:
            fail(f"{where}.requests_per_target", self.requests_per_target, "an integer of at least 1", "use 1000")
        if self.api_base_path and not self.api_base_path.startswith("/"):
            fail(f"{where}.api_base_path", self.api_base_path, "a URL path starting with '/'", "use e.g. '/api'")

    @property
    def behind_load_balancer(self) -> bool:
        return self.default_route or bool(self.public_paths)


# The course's four services. Ports, health checks and Cloud Map names as in the course.
# One `(name, ServiceSpec(...))` pair per service: a name given twice is refused.
SERVICES: Mapping[str, ServiceSpec] = table(
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
