"""The settings' types and their validation.

The values themselves live apart, in the two files users edit: `environments.py` (the values the
whole project shares, and the environments table: one entry per Terraform workspace) and
`catalog.py` (the services). `loading.load_settings()` builds them into one `Settings`, which
checks every value when it is built: a mistake raises `ConfigError` with the setting, the value
given, what is allowed and how to fix it, and where the entry was written.

Each field's docstring is its description in the README's settings reference, which is generated
from these declarations (`make docs`; a test fails when the README's copy is stale). An optional
feature is `None` when it is off.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from store2018.checks import (
    Checked,
    ConfigError,
    Written,
    check_bucket_name,
    check_dns_label,
    check_region,
    check_types,
    checking,
    fail,
    is_count,
    parse_private_network,
)
from store2018.naming import (
    DNS_LABEL,
    ENVIRONMENT_NAME,
    LOAD_BALANCER_NAME_LIMIT,
    PROJECT_NAME,
    RESERVED_ENVIRONMENT_NAMES,
    SERVICE_NAME,
    resource_name,
)
from store2018.network_layout import LARGEST_VPC_PREFIX, MAX_AZ_COUNT, MIN_AZ_COUNT, NEWBITS, SMALLEST_VPC_PREFIX
from store2018.releases import Release
from store2018.terraform_text import check_text

__all__ = [
    "AlarmThresholds",
    "Alerting",
    "CapacityMix",
    "ConfigError",
    "ContainerHealthCheck",
    "EnvironmentSettings",
    "NatGatewayMode",
    "ProjectSettings",
    "Secret",
    "ServiceOverrides",
    "ServiceSpec",
    "Settings",
    "StateBackendSettings",
    "TaskCount",
]

# ECS runs at most this many tasks per service.
MAX_TASKS_PER_SERVICE = 5000
# Retention periods CloudWatch Logs accepts (0, "never expire", is refused on purpose).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)  # fmt: skip
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
# A URL path as AWS takes it: '/' then up to 1023 printable ASCII characters, no space (escaped for Terraform).
URL_PATH = re.compile(r"/[\x21-\x7e]{0,1023}")
# S3's safe characters for object keys, plus ':' (Terraform's `env:` prefix): nothing to escape, anywhere.
S3_KEY = re.compile(r"[A-Za-z0-9!_.*'():/-]+")
# S3 keys are at most 1024 bytes; the backend prefixes `<workspace_key_prefix>/<workspace>/`.
MAX_STATE_KEY_LENGTH = 1000
# An ALB rule's path pattern: '/' then letters, digits and _-.$/~'@:+&*? (AWS also takes '"', refused here).
PATH_PATTERN = re.compile(r"/[A-Za-z0-9_.$/~'@:+&*?-]{0,127}")
# The state bucket name in the shipped environments.py: anyone could have created it.
SHIPPED_STATE_BUCKET = "store2018-terraform-state"
WRITABLE_PATH = re.compile(r"/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
# A region's own Availability Zone id (`usw2-az1`); Local/Wavelength Zone ids carry a location (`usw2-lax1-az1`).
AZ_ID = re.compile(r"[a-z]{2,6}[0-9]{1,2}-az[0-9]{1,2}")
# A secret's source: an SSM parameter, or a Secrets Manager secret with the six random characters AWS appends.
SSM_PARAMETER_ARN = re.compile(r"arn:aws:ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
SECRETS_MANAGER_ARN = re.compile(
    r"arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}"
)
KMS_KEY_ARN = re.compile(
    r"arn:aws:kms:[a-z0-9-]+:[0-9]{12}:key/([0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
)
# A GitHub repository as GitHub names it: `OWNER/NAME`. Owners (users and organisations) are 1-39 letters,
# digits or single hyphens, not at either end; names are 1-100 letters, digits, '.', '_' or '-'.
GITHUB_REPOSITORY = re.compile(r"(?P<owner>[A-Za-z0-9]+(-[A-Za-z0-9]+)*)/(?P<name>[A-Za-z0-9._-]{1,100})")
GITHUB_OWNER_LIMIT = 39
GITHUB_NAME_LIMIT = 100
# The account's one OIDC provider for GitHub Actions (IAM names a provider after its URL).
GITHUB_OIDC_PROVIDER_ARN = re.compile(
    r"arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com"
)
# Variable names that look like a credential: such a value belongs in `secrets`, never in plain `environment`.
SECRET_LOOKING_NAME = re.compile(r".*(PASSWORD|SECRET|TOKEN|KEY).*", re.IGNORECASE)
# An e-mail address SNS accepts (checked loosely: SNS asks the address itself to confirm).
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}")
# Percentiles the response-time alarm may watch (CloudWatch's extended statistic `p<N>`).
RESPONSE_TIME_PERCENTILES = (50, 90, 95, 99)
# Hosts a container health check may call: its own container only.
OWN_HOSTS = ("localhost", "127.0.0.1", "[::1]")
URL_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(\[[^\]]*\]|[^/:?#\s'\"]+)")
# Images whose registry is ECR need repository-scoped pull permissions on the execution role.
ECR_IMAGE = re.compile(r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<repository>.+)")


class NatGatewayMode(enum.Enum):
    """How the private subnets reach the internet."""

    ONE_PER_AZ = "one_per_az"  # a NAT gateway in every AZ: an AZ outage cuts no other AZ off
    SINGLE = "single"  # one shared NAT gateway: cheaper, one AZ is a single point of failure

    def gateway_count(self, az_count: int) -> int:
        return az_count if self is NatGatewayMode.ONE_PER_AZ else 1


class GitHubSubject(enum.Enum):
    """Which OIDC subject format the pipeline roles trust (README, "Pipeline trust")."""

    # `repo:OWNER/NAME:<context>:job_workflow_ref:OWNER/NAME/.github/workflows/<file>@<ref>`: the repository's
    # subject customised with the claim keys repo, context and job_workflow_ref (`make oidc-subject`).
    WORKFLOW = "workflow"
    # `repo:OWNER/NAME:<context>`: GitHub's default, which names no workflow (earlier versions).
    DEFAULT = "default"
    # Both, while the repository's setting is switched (trust both, switch, then WORKFLOW alone).
    BOTH = "both"


@dataclass(frozen=True, kw_only=True)
class StateBackendSettings(Written):
    """Where Terraform keeps its state: an S3 bucket that must exist before `terraform init`."""

    bucket: str
    """S3 bucket holding the state. The `bootstrap` stack creates it; S3 names are global, so use your own."""
    key: str
    """Object key of the state. Non-default workspaces keep theirs at `<workspace_key_prefix>/<workspace>/<key>`."""
    region: str
    """The bucket's region."""
    workspace_key_prefix: str = "env:"
    """Prefix of non-default workspaces' state keys (Terraform's default)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        with checking(self):
            check_types(self, "StateBackendSettings")
            check_bucket_name(
                "StateBackendSettings.bucket",
                self.bucket,
                "name an S3 bucket you own (or pass -backend-config=bucket=... at terraform init)",
            )
            if (
                not S3_KEY.fullmatch(self.key)
                or self.key.startswith("/")
                or self.key.endswith("/")
                or "//" in self.key
                or len(self.key) > MAX_STATE_KEY_LENGTH
            ):
                fail(
                    "StateBackendSettings.key",
                    self.key,
                    f"an S3 object key of 1 to {MAX_STATE_KEY_LENGTH} letters, digits and !_.*'():/- (S3's safe "
                    "characters: the backend reads it as written), with no empty path segment: not starting or "
                    "ending with '/', no '//'",
                    "use a path such as 'store2018/terraform.tfstate'",
                )
            check_region("StateBackendSettings.region", self.region)
            if not S3_KEY.fullmatch(self.workspace_key_prefix) or "/" in self.workspace_key_prefix:
                fail(
                    "StateBackendSettings.workspace_key_prefix",
                    self.workspace_key_prefix,
                    "a non-empty prefix of letters, digits and !_.*'():- (no '/')",
                    "keep Terraform's default 'env:'",
                )


@dataclass(frozen=True, kw_only=True)
class ProjectSettings(Written):
    """What is the same in every workspace."""

    name: str
    """Prefix of every resource name (`<workspace>-<name>-<role>`) and the `Project` tag."""
    region: str
    """AWS region of the provider."""
    az_count: int
    """Availability zones used, each with a private and a public subnet cut from the VPC's range as
    `network_layout.py` says (a load balancer needs two zones; no region offers one account more than six)."""
    state_backend: StateBackendSettings
    """The S3 state backend (`StateBackendSettings`, below)."""
    discovery_namespace: str
    """Cloud Map private DNS namespace; services resolve as `<discovery_name>.<namespace>`."""
    github_repository: str
    """The GitHub repository (`OWNER/NAME`, as GitHub spells it) whose Actions workflows may plan and apply
    through OIDC, with no stored AWS keys: the bootstrap stack then creates, per workspace, a plan role and
    an apply role they assume, a permissions boundary every role of the main stack carries, and GitHub's
    OIDC provider (unless `github_oidc_provider_arn` names it). `""`: none of it."""
    github_oidc_provider_arn: str | None = None
    """The account's existing OIDC provider for `https://token.actions.githubusercontent.com` (an account
    holds one per URL): `arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com`. `None`:
    the bootstrap creates it (only when `github_repository` is set)."""
    github_oidc_subject: GitHubSubject = GitHubSubject.WORKFLOW
    """The OIDC subject format the pipeline roles trust. `WORKFLOW`: only the named workflow files (the apply
    roles: `deploy.yml` on `main` in their environment), which needs the repository's subject customised
    (`make oidc-subject`); `DEFAULT`: GitHub's default subject (any workflow of a context; earlier versions);
    `BOTH`: either, for the switch (README, "Pipeline trust")."""
    shared_workload_boundary: bool = False
    """Keep the one permissions boundary of earlier versions (`<name>-workload-boundary`, for every workspace)
    beside each workspace's own, while a deployment moves its roles over: set it, apply the bootstrap, apply
    every workspace, then unset it and apply the bootstrap again (README, "Upgrading"). `False`: only the
    workspaces' boundaries (a new deployment never needs it)."""
    expose_api_paths: bool = True
    """Publish the APIs' `public_paths` on the load balancer (the front end's browser page calls them).
    `False`: only the front end is reachable from the internet; the APIs get no target group, no rule and
    no open port from the ALB."""
    hosted_zone_id: str | None = None
    """A public Route 53 zone: each workspace gets an alias record for the ALB. `None`: no record."""

    def __post_init__(self) -> None:
        super().__post_init__()
        with checking(self):
            check_types(self, "ProjectSettings")
            if not PROJECT_NAME.fullmatch(self.name):
                fail(
                    "ProjectSettings.name",
                    self.name,
                    "2 to 16 lower-case letters, digits or hyphens, starting with a letter and not ending with a "
                    "hyphen (it prefixes resource names, which AWS caps at 32 characters for load balancers)",
                    "use a short name such as 'store2018'",
                )
            check_region("ProjectSettings.region", self.region)
            if not MIN_AZ_COUNT <= self.az_count <= MAX_AZ_COUNT:
                fail(
                    "ProjectSettings.az_count",
                    self.az_count,
                    f"an integer from {MIN_AZ_COUNT} (a load balancer needs two AZs) to {MAX_AZ_COUNT}",
                    "use 2, the course's layout",
                )
            if not re.fullmatch(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", self.discovery_namespace):
                fail(
                    "ProjectSettings.discovery_namespace",
                    self.discovery_namespace,
                    "a DNS name of two or more lower-case labels",
                    "use 'microservices.private'",
                )
            if self.hosted_zone_id is not None and not re.fullmatch(r"Z[A-Z0-9]{1,31}", self.hosted_zone_id):
                fail(
                    "ProjectSettings.hosted_zone_id",
                    self.hosted_zone_id,
                    "a Route 53 hosted zone id such as 'Z0123456789ABCDEFGHIJ', or None for no DNS record",
                    "copy the id from `aws route53 list-hosted-zones`",
                )
            check_github_repository("ProjectSettings.github_repository", self.github_repository)
            if self.github_oidc_provider_arn is not None:
                check_github_oidc_provider_arn(
                    "ProjectSettings.github_oidc_provider_arn", self.github_oidc_provider_arn, self.github_repository
                )
            if self.shared_workload_boundary and not self.github_repository:
                fail("ProjectSettings.shared_workload_boundary", True, "True only with ProjectSettings."
                     "github_repository set (without pipeline roles there is no boundary to keep)",
                     "set it back to False")  # fmt: skip


def check_github_repository(setting: str, repository: str) -> None:
    """`""` or `OWNER/NAME` as GitHub allows them: the text of the trust policies' `sub` conditions."""
    match = GITHUB_REPOSITORY.fullmatch(repository)
    if repository and (not match or len(match["owner"]) > GITHUB_OWNER_LIMIT or match["name"] in (".", "..")):
        fail(setting, repository, f"'' (no pipeline roles) or 'OWNER/NAME': an owner of 1 to {GITHUB_OWNER_LIMIT} "
             "letters, digits or single hyphens, not starting or ending with one, then a repository name of 1 to "
             f"{GITHUB_NAME_LIMIT} letters, digits, '.', '_' or '-' (not '.' or '..'); no URL, spaces or "
             "wildcards", "copy it from the repository's page, e.g. 'octo-org/store2018'")  # fmt: skip


def check_github_oidc_provider_arn(setting: str, arn: str, repository: str) -> None:
    match = GITHUB_OIDC_PROVIDER_ARN.fullmatch(arn)
    if not match:
        fail(setting, arn, "the ARN of the account's OIDC provider for GitHub Actions: arn:aws:iam::<12-digit "
             "account>:oidc-provider/token.actions.githubusercontent.com, or None to let the bootstrap create it",
             "copy it from `aws iam list-open-id-connect-providers`")  # fmt: skip
    if match["partition"] != "aws":
        fail(setting, arn, f"a provider in the commercial partition ('aws'), where ProjectSettings.region is: a "
             f"role there cannot trust a provider of '{match['partition']}'", "name the provider of the account "
             "the project deploys to, or None")  # fmt: skip
    if not repository:
        fail(setting, arn, "a provider only with ProjectSettings.github_repository set (without it no role "
             "trusts the provider)", "set github_repository, or leave this None")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TaskCount(Checked):
    """Bounds of a service's task count. The desired count starts at `minimum`; autoscaling owns it after."""

    minimum: int = 2
    """Tasks the service starts with and never goes below (the course runs 2)."""
    maximum: int = 4
    """Tasks target tracking may scale out to."""

    def check(self, setting: str) -> None:
        check_types(self, setting)
        if not is_count(self.minimum) or self.minimum < 1:
            fail(f"{setting}.minimum", self.minimum, "an integer of at least 1", "use 2, the course's task count")
        if self.maximum > MAX_TASKS_PER_SERVICE:
            fail(
                f"{setting}.maximum",
                self.maximum,
                f"at most {MAX_TASKS_PER_SERVICE} (ECS's tasks-per-service quota)",
                "use a realistic bound such as 6",
            )
        if not is_count(self.maximum) or self.maximum < self.minimum:
            fail(
                f"{setting}.maximum",
                self.maximum,
                f"an integer no smaller than minimum ({self.minimum})",
                f"use TaskCount(minimum={self.minimum}, maximum={max(self.minimum, 1) * 2})",
            )


@dataclass(frozen=True, kw_only=True)
class ServiceOverrides(Checked):
    """Per-environment exceptions for one service; `None` keeps the environment's value."""

    tasks: TaskCount | None = None
    """This service's task bounds in this environment."""
    alarms: AlarmThresholds | None = None
    """This service's alarm thresholds in this environment."""
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    """Where this environment keeps some of the service's `secrets`, by variable (the same kind: an SSM
    parameter stays an SSM parameter)."""

    def check(self, setting: str) -> None:
        check_types(self, setting)
        if self.tasks is not None:
            self.tasks.validate(f"{setting}.tasks")  # a mistake there points at the TaskCount(...) itself
        if self.alarms is not None:
            self.alarms.validate(f"{setting}.alarms")
        for variable, secret in self.secrets.items():
            secret.validate(f"{setting}.secrets[{variable!r}]")


@dataclass(frozen=True, kw_only=True)
class CapacityMix(Checked):
    """How tasks are spread over the Fargate capacity providers (a capacity-provider strategy)."""

    fargate_base: int = 1
    """Tasks that always run on FARGATE."""
    fargate_weight: int = 1
    """Share of the remaining tasks on FARGATE."""
    fargate_spot_weight: int = 0
    """Share of the remaining tasks on FARGATE_SPOT: cheaper, can be interrupted; off (0) unless set."""

    def check(self, setting: str) -> None:
        check_types(self, setting)
        for attribute, limit in (("fargate_base", 100_000), ("fargate_weight", 1000), ("fargate_spot_weight", 1000)):
            value = getattr(self, attribute)
            if not is_count(value) or value > limit:
                fail(f"{setting}.{attribute}", value, f"an integer from 0 to {limit}", "use the defaults 1, 1, 0")
        if self.fargate_weight == 0 and self.fargate_spot_weight == 0:
            fail(
                f"{setting}.fargate_weight",
                0,
                "at least one weight above 0 (ECS needs somewhere to place tasks beyond the base)",
                "use fargate_weight=1",
            )


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds(Checked):
    """When a service's alarms fire. Each alarm watches one-minute periods and fires after
    `Alerting.evaluation_minutes` of them in a row breach."""

    target_5xx_per_minute: int = 5
    """5xx answers from the service's tasks per minute (exposed services): the deployment's rollback alarm."""
    response_time_percentile: int = 95
    """The percentile of the target response time watched: one of 50, 90, 95, 99."""
    response_time_ms: int = 1000
    """The response time (milliseconds) that percentile must stay under (exposed services)."""
    cpu_percent: int = 85
    """Average CPU of the service's tasks; above it, the service is short of CPU (autoscaling may be capped)."""
    memory_percent: int = 85
    """Average memory of the service's tasks; Fargate stops a task that exceeds its memory."""

    def check(self, setting: str) -> None:
        check_types(self, setting)
        if not is_count(self.target_5xx_per_minute) or self.target_5xx_per_minute < 1:
            fail(f"{setting}.target_5xx_per_minute", self.target_5xx_per_minute, "an integer of at least 1",
                 "use 5")  # fmt: skip
        if self.response_time_percentile not in RESPONSE_TIME_PERCENTILES:
            fail(f"{setting}.response_time_percentile", self.response_time_percentile,
                 f"one of {', '.join(map(str, RESPONSE_TIME_PERCENTILES))}", "use 95 or 99")  # fmt: skip
        if not is_count(self.response_time_ms) or not 1 <= self.response_time_ms <= 60_000:
            fail(f"{setting}.response_time_ms", self.response_time_ms, "milliseconds from 1 to 60000 (the load "
                 "balancer's longest idle timeout)", "use 1000")  # fmt: skip
        for attribute in ("cpu_percent", "memory_percent"):
            value = getattr(self, attribute)
            if not is_count(value) or not 1 <= value <= 100:
                fail(f"{setting}.{attribute}", value, "a percentage from 1 to 100", "use 85")


@dataclass(frozen=True, kw_only=True)
class Alerting(Checked):
    """Where alarms go and how soon they fire, per environment."""

    evaluation_minutes: int = 3
    """Consecutive one-minute periods that must breach before an alarm fires (1 to 60)."""
    load_balancer_5xx_per_minute: int = 10
    """The load balancer's own 5xx answers per minute (503 when no target is healthy): the site-down alarm."""
    email: str | None = None
    """An address subscribed to the workspace's alarm topic (SNS e-mails it once to confirm). `None`: no
    subscription; subscribe a pager or chat integration to the topic yourself."""

    def check(self, setting: str) -> None:
        check_types(self, setting)
        if not is_count(self.evaluation_minutes) or not 1 <= self.evaluation_minutes <= 60:
            fail(f"{setting}.evaluation_minutes", self.evaluation_minutes, "an integer from 1 to 60", "use 3")
        if not is_count(self.load_balancer_5xx_per_minute) or self.load_balancer_5xx_per_minute < 1:
            fail(f"{setting}.load_balancer_5xx_per_minute", self.load_balancer_5xx_per_minute,
                 "an integer of at least 1", "use 10")  # fmt: skip
        if self.email is not None and (not EMAIL.fullmatch(self.email) or len(self.email) > 254):
            fail(f"{setting}.email", self.email, "an e-mail address such as 'oncall@example.com' (letters, digits "
                 "and ._%+- before the '@'), or None for no subscription", "write the address alone")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Secret(Checked):
    """Where a container variable's value is kept: ECS reads it at task start with the execution role."""

    arn: str
    """The full ARN of an SSM parameter (`arn:aws:ssm:<region>:<account>:parameter/<name>`) or a Secrets
    Manager secret (`arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters>`)."""
    kms_key_arn: str | None = None
    """The customer-managed KMS key the value is encrypted with: the execution role may decrypt with it.
    `None`: the AWS-managed key (`aws/ssm`, `aws/secretsmanager`), which needs no grant."""

    @property
    def is_parameter(self) -> bool:
        return self.arn.startswith("arn:aws:ssm:")

    def check(self, setting: str) -> None:
        check_types(self, setting)
        if not (SSM_PARAMETER_ARN.fullmatch(self.arn) or SECRETS_MANAGER_ARN.fullmatch(self.arn)):
            fail(f"{setting}.arn", self.arn, "the full ARN of an SSM parameter (arn:aws:ssm:<region>:<account>:"
                 "parameter/<name>) or of a Secrets Manager secret, including the '-' and six random characters "
                 "Secrets Manager appends (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)",
                 "copy it from `aws ssm get-parameter --name NAME --query Parameter.ARN` or `aws secretsmanager "
                 "describe-secret --secret-id NAME --query ARN`")  # fmt: skip
        if self.kms_key_arn is not None and not KMS_KEY_ARN.fullmatch(self.kms_key_arn):
            fail(f"{setting}.kms_key_arn", self.kms_key_arn, "a KMS key ARN (arn:aws:kms:<region>:<account>:key/"
                 "<key id>), not an alias, or None for the AWS-managed key", "copy it from `aws kms describe-key "
                 "--key-id ALIAS --query KeyMetadata.Arn`")  # fmt: skip


def check_secret_region(setting: str, secret: Secret, region: str) -> None:
    """A secret in the provider's region: the execution role may decrypt only through that region's SSM
    and Secrets Manager (kms:ViaService)."""
    if secret.arn.split(":")[3] != region:
        fail(setting, secret.arn, f"a parameter or secret in the provider's region ({region}): the execution "
             f"role decrypts only through {region}'s SSM and Secrets Manager",
             f"keep or replicate it in {region}")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ContainerHealthCheck(Checked):
    """A check ECS runs inside the container (Docker's HEALTHCHECK): an unhealthy task is replaced."""

    command: tuple[str, ...]
    """`("CMD-SHELL", "<shell command>")` or `("CMD", "<executable>", "<argument>", ...)`; exit 0 is healthy.
    It may call only its own container (localhost), never another service."""
    interval_seconds: int = 30
    """Seconds between checks (5 to 300)."""
    timeout_seconds: int = 5
    """Seconds a check may take before it counts as failed (2 to 60, less than the interval)."""
    retries: int = 3
    """Failed checks in a row before the container is unhealthy (1 to 10)."""
    start_period_seconds: int = 60
    """Seconds after start during which failures do not count (0 to 300)."""

    def check(self, setting: str) -> None:
        check_types(self, setting)
        if (
            len(self.command) < 2
            or self.command[0] not in ("CMD", "CMD-SHELL")
            or not all(self.command[1:])
            or (self.command[0] == "CMD-SHELL" and len(self.command) != 2)
        ):
            fail(f"{setting}.command", self.command, "('CMD-SHELL', '<shell command>') or ('CMD', '<executable>', "
                 "'<argument>', ...), without empty parts", "write e.g. ('CMD-SHELL', 'curl -fs "
                 "http://localhost/healthcheck || exit 1')")  # fmt: skip
        for part in self.command[1:]:
            for host in URL_HOST.findall(part):
                if host.lower() not in OWN_HOSTS:
                    own = ", ".join(OWN_HOSTS)
                    fail(f"{setting}.command", part, f"a check that calls only its own container ({own}"
                         f"), not {host!r}: a check on another service would restart healthy tasks when that one "
                         "fails", "call http://localhost:<container port>/<health path>")  # fmt: skip
        limits = (("interval_seconds", 5, 300), ("timeout_seconds", 2, 60), ("retries", 1, 10),
                  ("start_period_seconds", 0, 300))  # fmt: skip
        for attribute, low, high in limits:
            value = getattr(self, attribute)
            if not is_count(value) or not low <= value <= high:
                fail(f"{setting}.{attribute}", value, f"an integer from {low} to {high} (ECS's limits)",
                     "keep the default")  # fmt: skip
        if self.timeout_seconds >= self.interval_seconds:
            fail(f"{setting}.timeout_seconds", self.timeout_seconds, f"less than interval_seconds "
                 f"({self.interval_seconds})", "shorten the timeout or lengthen the interval")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings(Written):
    """What differs between workspaces: one entry of the environments table per Terraform workspace."""

    vpc_cidr: str
    """Private IPv4 range (RFC 1918), large enough for the subnet layout (`network_layout.py`), no overlap
    between environments."""
    nat_gateway_mode: NatGatewayMode = NatGatewayMode.ONE_PER_AZ
    """NAT gateways: `ONE_PER_AZ` (an AZ outage cuts no other AZ off) or `SINGLE` (one shared: cheaper)."""
    allowed_account_ids: tuple[str, ...] = ()
    """When set, the provider refuses to run against any other AWS account."""
    tasks: TaskCount = field(default_factory=TaskCount)
    """Tasks per service, unless `services` overrides them: the desired count starts at the minimum and
    target tracking moves it between the bounds."""
    require_image_digests: bool = False
    """Refuse a tag in this environment's release manifest (`releases/<workspace>.json`): every service
    must run a digest. Off: a tag is allowed and reported by every synthesis (a tag can be moved)."""
    services: Mapping[str, ServiceOverrides] = field(default_factory=dict)
    """Per-service exceptions, by catalog name: `{"account": ServiceOverrides(tasks=TaskCount(3, 8))}`."""
    capacity: CapacityMix = field(default_factory=CapacityMix)
    """The capacity-provider strategy (`CapacityMix`, below)."""
    alb_deletion_protection: bool = True
    """The load balancer refuses deletion until this is turned off and applied."""
    log_retention_days: int = 30
    """Days CloudWatch keeps the services' logs; one of the values CloudWatch accepts (never "forever")."""
    flow_log_retention_days: int = 90
    """Days CloudWatch keeps the VPC flow logs (every accepted and rejected connection)."""
    alb_access_logs_bucket: str | None = None
    """An existing S3 bucket in the region for the load balancer's access logs (prefix `<workspace>-<name>`);
    its policy must let Elastic Load Balancing write. `None`: off."""
    certificate_arn: str | None = None
    """An ACM certificate in the provider's region: adds the HTTPS listener and a rule redirecting port 80
    to 443. `None`: HTTP only."""
    dns_record_name: str | None = None
    """The alias record's name in `hosted_zone_id`, when that is set. `None`: `<name>-<environment>`."""
    zone_ids: tuple[str, ...] = ()
    """Availability Zone ids to pin the subnets to, one per `az_count`, in order (e.g. `("usw2-az1",
    "usw2-az2")`; ids name the same zone in every account, names do not). Empty: the first `az_count`
    zone names, sorted, of the zones that need no opt-in (Local and Wavelength Zones never), in every
    state. To pin an existing environment, copy its subnets' `AvailabilityZoneId`s (nothing is replaced)."""
    alerting: Alerting = field(default_factory=Alerting)
    """Alarm evaluation, the load balancer's site-down threshold and the e-mail subscription (`Alerting`)."""
    ecs_exec: bool = False
    """ECS Exec: `aws ecs execute-command` may open a shell in a task (the task role gets the SSM channel
    permissions; sessions are logged to the cluster's exec log group). Off in prod unless needed."""
    wait_for_steady_state: bool = True
    """`terraform apply` waits until each service runs its desired count of healthy tasks (up to 20 minutes
    per service) and fails if it does not, instead of returning while no task may ever start."""

    def validate(
        self, name: str, *, services: Mapping[str, ServiceSpec], region: str, az_count: int
    ) -> ipaddress.IPv4Network:
        """Check the entry named `name`; returns its VPC range for the checks across environments."""
        where = f"ENVIRONMENTS[{name!r}]"
        check_types(self, where, skip=("services",))
        net = parse_private_network(f"{where}.vpc_cidr", self.vpc_cidr)
        if not LARGEST_VPC_PREFIX <= net.prefixlen <= SMALLEST_VPC_PREFIX:
            fail(
                f"{where}.vpc_cidr",
                self.vpc_cidr,
                f"the prefix must be /{LARGEST_VPC_PREFIX} to /{SMALLEST_VPC_PREFIX}: AWS VPCs are at most "
                f"/{LARGEST_VPC_PREFIX} and subnets (the VPC prefix + {NEWBITS}) at least "
                f"/{SMALLEST_VPC_PREFIX + NEWBITS}",
                "use a /16 such as '10.0.0.0/16'",
            )
        for account in self.allowed_account_ids:
            if not re.fullmatch(r"[0-9]{12}", account):
                fail(
                    f"{where}.allowed_account_ids",
                    account,
                    "an AWS account id is exactly 12 digits",
                    "copy it from `aws sts get-caller-identity`, or leave the tuple empty",
                )
        self.tasks.validate(f"{where}.tasks")
        if not isinstance(self.services, Mapping):
            fail(f"{where}.services", self.services, "a mapping of catalog names to ServiceOverrides(...)",
                 'write {"account": ServiceOverrides(...)}')  # fmt: skip
        for service, overrides in self.services.items():
            if service not in services:
                fail(
                    f"{where}.services",
                    service,
                    f"overrides name a service of the catalog ({', '.join(services)})",
                    "fix the name or remove the entry",
                )
            if not isinstance(overrides, ServiceOverrides):
                fail(f"{where}.services[{service!r}]", overrides, "a ServiceOverrides(...)",
                     "write ServiceOverrides(tasks=TaskCount(...))")  # fmt: skip
            overrides.validate(f"{where}.services[{service!r}]")
        self.capacity.validate(f"{where}.capacity")
        self.alerting.validate(f"{where}.alerting")
        for service, overrides in self.services.items():
            for variable, secret in overrides.secrets.items():
                declared = services[service].secrets.get(variable)
                if declared is None:
                    fail(f"{where}.services[{service!r}].secrets", variable, f"a variable of SERVICES[{service!r}]"
                         f".secrets ({', '.join(services[service].secrets) or 'none declared'}): every environment "
                         "gets the same variables", "declare it in the catalog first")  # fmt: skip
                check_secret_region(f"{where}.services[{service!r}].secrets[{variable!r}].arn", secret, region)
                if declared.is_parameter != secret.is_parameter:
                    fail(f"{where}.services[{service!r}].secrets[{variable!r}].arn", secret.arn, "the same kind "
                         "as the catalog's (an SSM parameter or a Secrets Manager secret): the application reads "
                         "one", "keep the catalog's kind in every environment")  # fmt: skip
        for attribute in ("log_retention_days", "flow_log_retention_days"):
            days = getattr(self, attribute)
            if days not in LOG_RETENTION_DAYS:
                fail(
                    f"{where}.{attribute}",
                    days,
                    f"CloudWatch accepts {', '.join(map(str, LOG_RETENTION_DAYS))} days",
                    "use 30 or 90 (7 for a short-lived environment)",
                )
        if self.alb_access_logs_bucket is not None:
            check_bucket_name(
                f"{where}.alb_access_logs_bucket",
                self.alb_access_logs_bucket,
                "name an existing bucket in the region whose policy lets the load balancer write, or use None",
            )
        if self.certificate_arn is not None:
            if not re.fullmatch(r"arn:aws:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}", self.certificate_arn):
                fail(
                    f"{where}.certificate_arn",
                    self.certificate_arn,
                    "an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>), or None for HTTP only",
                    "copy the ARN from the ACM console or `aws acm list-certificates`",
                )
            if self.certificate_arn.split(":")[3] != region:
                fail(
                    f"{where}.certificate_arn",
                    self.certificate_arn,
                    f"a certificate in the load balancer's region ({region}); ACM certificates are regional",
                    f"request or import the certificate in {region}",
                )
        if self.dns_record_name is not None:
            check_dns_label(f"{where}.dns_record_name", self.dns_record_name, "use e.g. 'store2018test'")
        if self.zone_ids:
            for zone_id in self.zone_ids:
                if not AZ_ID.fullmatch(zone_id):
                    fail(
                        f"{where}.zone_ids",
                        zone_id,
                        "an Availability Zone id such as 'usw2-az1' (Local and Wavelength Zone ids, such as "
                        "'usw2-lax1-az1', are refused: the subnets stay in the region's own zones)",
                        "list them with `aws ec2 describe-availability-zones --query 'AvailabilityZones[].ZoneId'`",
                    )
            if len(set(self.zone_ids)) != len(self.zone_ids) or len(self.zone_ids) != az_count:
                fail(
                    f"{where}.zone_ids",
                    self.zone_ids,
                    f"exactly az_count ({az_count}) different zone ids, one per subnet pair, or () for none",
                    "list one id per zone, each once",
                )
        return net

    def record_name(self, environment: str, project: str) -> str:
        """The alias record's name: `dns_record_name`, or `<project>-<environment>`."""
        return self.dns_record_name or f"{project}-{environment}"


@dataclass(frozen=True, kw_only=True)
class ServiceSpec(Written):
    """One service of the application. Its catalog name (e.g. `account`) appears in resource names and
    construct ids: renaming it replaces its resources."""

    image: str
    """Image repository without a tag (the tag is per environment). An ECR image
    (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>`) gives the execution role pull rights on that
    repository only."""
    discovery_name: str
    """Cloud Map name (a DNS label), unique in the catalog: `<discovery_name>.<namespace>`."""
    health_check_path: str
    """The target group's health check (matcher 200)."""
    container_port: int = 80
    """The container's port; the ALB may reach exposed services on it."""
    cpu: int = 256
    """CPU units of the task: a size Fargate accepts."""
    memory_mib: int = 512
    """Memory of the task: a size Fargate accepts with that `cpu` (checked at synth)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Plain container variables."""
    api_base_path: str | None = None
    """Set on services others call: their base URL is `http://<discovery_name>.<namespace><api_base_path>`."""
    api_base_variables: Mapping[str, str] = field(default_factory=dict)
    """Variables that receive another service's base URL: `{variable: catalog name}`."""
    public_paths: tuple[str, ...] = ()
    """Path patterns the ALB forwards to the service (when `expose_api_paths`); at most 5."""
    default_route: bool = False
    """The ALB's default action forwards here: exactly one service (the web front end)."""
    cpu_target_percent: int = 60
    """Target tracking on the tasks' average CPU."""
    requests_per_target: int = 1000
    """Target tracking on ALB requests per task (services behind the ALB)."""
    read_only_root_filesystem: bool = False
    """The container's root file system is read-only; it may write only under `writable_paths`. Off for
    the course's images: nginx and supervisor write under /var/log, /var/lib/nginx and /run (README)."""
    writable_paths: tuple[str, ...] = ()
    """With `read_only_root_filesystem`: absolute paths that stay writable (each an empty volume on the
    task's ephemeral storage), e.g. `("/tmp", "/var/log", "/var/lib/nginx", "/run")`."""
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    """Container variables whose values ECS reads at task start from SSM or Secrets Manager, by name:
    `{"DB_PASSWORD": Secret(arn=...)}`. The execution role may read exactly these; the value never appears
    in the synthesis, a plan or the state. A rotated value reaches tasks on their next deployment."""
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    """The service's alarm thresholds (`AlarmThresholds`); `ServiceOverrides.alarms` changes them per environment."""
    container_health_check: ContainerHealthCheck | None = None
    """A health check inside the container (`ContainerHealthCheck`). `None`: none (the course's images ship
    neither curl nor wget; the load balancer's check still applies to exposed services)."""

    @property
    def behind_load_balancer(self) -> bool:
        return self.default_route or bool(self.public_paths)

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
        if not 1 <= self.container_port <= 65535:
            fail(f"{where}.container_port", self.container_port, "a TCP port from 1 to 65535", "use 80")
        if not URL_PATH.fullmatch(self.health_check_path):
            fail(
                f"{where}.health_check_path",
                self.health_check_path,
                "a URL path starting with '/': at most 1024 printable ASCII characters, no spaces",
                "use e.g. '/api/healthcheck'",
            )
        if not DNS_LABEL.fullmatch(self.discovery_name):
            fail(
                f"{where}.discovery_name",
                self.discovery_name,
                "a DNS label: 1 to 63 lower-case letters, digits or hyphens",
                "use e.g. 'api-account'",
            )
        if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*", self.image) or (
            ":" in self.image.rsplit("/", 1)[-1]
        ):
            fail(
                f"{where}.image",
                self.image,
                "an image repository without a tag (the image per environment is in releases/<workspace>.json)",
                "use e.g. 'jeremycookdev/accountservice'",
            )
        for path in self.public_paths:
            if not PATH_PATTERN.fullmatch(path):
                fail(
                    f"{where}.public_paths",
                    path,
                    "ALB path patterns: start with '/', at most 128 characters of letters, digits and _-.$/~'@:+&*?",
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
        for variable, setting in [*((v, "environment") for v in self.environment),
                                  *((v, "api_base_variables") for v in self.api_base_variables)]:  # fmt: skip
            if SECRET_LOOKING_NAME.fullmatch(variable):
                fail(f"{where}.{setting}", variable, "plain variables whose names do not look like a credential "
                     "(*PASSWORD*, *SECRET*, *TOKEN*, *KEY*): plain values are written into the task definition, "
                     "the plan and the state", f"keep the value in SSM or Secrets Manager and declare it in "
                     f"`secrets`: {{{variable!r}: Secret(arn=...)}}")  # fmt: skip
        for variable, secret in self.secrets.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", variable):
                fail(f"{where}.secrets", variable, "variable names of letters, digits and '_', not starting with a "
                     "digit", "rename it, e.g. 'DB_PASSWORD'")  # fmt: skip
            if not isinstance(secret, Secret):
                fail(f"{where}.secrets[{variable!r}]", secret, "a Secret(arn=...)", "write Secret(arn='arn:aws:...')")
            secret.validate(f"{where}.secrets[{variable!r}]")
        clash = (set(self.environment) | set(self.api_base_variables)) & set(self.secrets)
        if clash:
            fail(f"{where}.secrets", sorted(clash), "names not also set as plain variables (`environment`, "
                 "`api_base_variables`)", "remove the variable from one of them")  # fmt: skip
        self.alarms.validate(f"{where}.alarms")
        if self.container_health_check is not None:
            self.container_health_check.validate(f"{where}.container_health_check")
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
        if self.api_base_path is not None and not URL_PATH.fullmatch(self.api_base_path):
            fail(f"{where}.api_base_path", self.api_base_path, "a URL path starting with '/': at most 1024 printable "
                 "ASCII characters, no spaces", "use e.g. '/api'")  # fmt: skip
        if self.writable_paths and not self.read_only_root_filesystem:
            fail(f"{where}.writable_paths", self.writable_paths, "writable paths only with "
                 "read_only_root_filesystem=True (everything is writable without it)",
                 "set read_only_root_filesystem=True, or remove writable_paths")  # fmt: skip
        for path in self.writable_paths:
            if not WRITABLE_PATH.fullmatch(path) or {".", ".."} & set(path.split("/")) or len(path) > 255:
                fail(f"{where}.writable_paths", path, "an absolute directory path of letters, digits and "
                     "_.-/ (no '.' or '..' segment, no trailing '/'), at most 255 characters",
                     "use e.g. '/tmp'")  # fmt: skip
        if len(set(self.writable_paths)) != len(self.writable_paths):
            fail(f"{where}.writable_paths", self.writable_paths, "each path once", "remove the duplicate")


@dataclass(frozen=True, kw_only=True)
class Settings(Written):
    """Everything the stacks are built from, validated as a whole when built (`loading.load_settings()`)."""

    project: ProjectSettings
    environments: Mapping[str, EnvironmentSettings]
    services: Mapping[str, ServiceSpec]
    releases: Mapping[str, Release]
    """Per workspace, the image of each service (`releases/<workspace>.json`, `releases.py`)."""

    def warnings(self) -> list[str]:
        """Valid settings a user should still change (printed by every synthesis)."""
        found = []
        bucket = self.project.state_backend.bucket
        if bucket == SHIPPED_STATE_BUCKET:
            found.append(
                f"StateBackendSettings.bucket = {bucket!r} is the name this project ships with: S3 bucket names "
                "are global, so anyone may have taken it (then `terraform init` fails, or state goes to a "
                "stranger's bucket if its policy lets you write). Fix: set a name of your own in "
                "constructs/store2018/environments.py, e.g. 'store2018-state-<account id>', and `make synth`."
            )
        for workspace, release in self.releases.items():
            tagged = ", ".join(f"{service} ({release.images[service]!r})" for service in release.mutable_tags())
            if tagged:
                found.append(
                    f"{release.source}: {workspace} runs {tagged} by tag: a tag can be moved to another image after "
                    "review. Fix: pin digests (`make pin`, `make promote`), then turn on "
                    f"ENVIRONMENTS[{workspace!r}].require_image_digests."
                )
        return found

    def __post_init__(self) -> None:
        super().__post_init__()
        check_types(self, "Settings", skip=("environments", "services", "releases"))
        self._check_texts()
        self._validate_services()
        self._validate_environments()
        self._validate_releases()

    def _validate_releases(self) -> None:
        """One manifest per environment, naming an image for every service of the catalog."""
        missing = [workspace for workspace in self.environments if workspace not in self.releases]
        if missing:
            fail(f"releases/{missing[0]}.json", None, "a release manifest for every environment of the table: it "
                 "names the image each service runs there", 'write {"images": {"<service>": "<digest or tag>", '
                 "...}} (copy another environment's manifest)")  # fmt: skip
        extra = sorted(set(self.releases) - set(self.environments))
        if extra:
            fail(f"releases/{extra[0]}.json", "present", "a manifest only for an environment of the table",
                 "delete it, or add the environment to environments.py")  # fmt: skip
        for workspace, release in self.releases.items():
            env = self.environments[workspace]
            release.validate(workspace, self.services, require_digests=env.require_image_digests)

    def _check_texts(self) -> None:
        """Every text setting, wherever it lands, is text Terraform can be given (terraform_text.check_text)."""
        entries: list[tuple[str, object]] = [("ProjectSettings", self.project)]
        if isinstance(self.environments, Mapping):
            entries += [(f"ENVIRONMENTS[{name!r}]", env) for name, env in self.environments.items()]
        if isinstance(self.services, Mapping):
            entries += [(f"SERVICES[{name!r}]", spec) for name, spec in self.services.items()]
        for where, entry in entries:
            with checking(entry):
                for setting, text in _texts(entry, where):
                    check_text(setting, text)

    @property
    def exposed_services(self) -> dict[str, ServiceSpec]:
        """Services the load balancer forwards to: the default route, plus the APIs when published."""
        return {
            name: spec
            for name, spec in self.services.items()
            if spec.default_route or (self.project.expose_api_paths and spec.public_paths)
        }

    def _validate_services(self) -> None:
        services = self.services
        with checking(services):
            if not isinstance(services, Mapping) or not services:
                fail("SERVICES", dict(services) if isinstance(services, Mapping) else services,
                     "at least one service", "declare the course's four services")  # fmt: skip
        for name, spec in services.items():
            if not SERVICE_NAME.fullmatch(name):
                with checking(spec, services):
                    fail("SERVICES key", name, "2 to 15 lower-case letters or digits, starting with a letter (it "
                         "names the service's resources)", "use e.g. 'payment'")  # fmt: skip
            if not isinstance(spec, ServiceSpec):
                with checking(services):
                    fail(f"SERVICES[{name!r}]", spec, "a ServiceSpec(...)",
                         "declare it with ServiceSpec(image=..., ...)")  # fmt: skip
            with checking(spec):
                spec.validate(name)
                for variable, target in spec.api_base_variables.items():
                    if target not in services or services[target].api_base_path is None:
                        fail(
                            f"SERVICES[{name!r}].api_base_variables[{variable!r}]",
                            target,
                            "the catalog name of a service that declares an api_base_path",
                            f"use one of {[n for n, s in services.items() if s.api_base_path is not None]}",
                        )
            check = spec.container_health_check
            others = [s.discovery_name for n, s in services.items() if n != name]
            named = [re.compile(rf"(?<![A-Za-z0-9-]){re.escape(other)}(?![A-Za-z0-9-])") for other in others]
            calls = [
                o for o, n in zip(others, named, strict=True) if check and any(n.search(p) for p in check.command[1:])
            ]
            if calls:
                with checking(check):
                    fail(f"SERVICES[{name!r}].container_health_check.command", check.command if check else None,
                         f"a check that calls only its own container, not another service ({calls[0]}): it "
                         "would restart healthy tasks whenever that one fails",
                         "call http://localhost:<port>/<path>")  # fmt: skip
            for variable, secret in spec.secrets.items():
                with checking(secret):
                    check_secret_region(f"SERVICES[{name!r}].secrets[{variable!r}].arn", secret, self.project.region)
        defaults = [name for name, spec in services.items() if spec.default_route]
        if len(defaults) != 1:
            with checking(services[defaults[-1]] if defaults else None, services):
                fail(
                    "SERVICES[...].default_route",
                    defaults,
                    "exactly one service is the load balancer's default route",
                    "set default_route=True on the web front end only",
                )
        for attribute in ("discovery_name", "public_paths"):
            seen: dict[str, str] = {}
            for name, spec in services.items():
                values = getattr(spec, attribute)
                for value in values if isinstance(values, tuple) else (values,):
                    if value in seen:
                        with checking(spec):
                            fail(
                                f"SERVICES[{name!r}].{attribute}",
                                value,
                                f"unique across the catalog (SERVICES[{seen[value]!r}] has it too)",
                                "give each service its own",
                            )
                    seen[value] = name

    def _validate_environments(self) -> None:
        environments = self.environments
        if not isinstance(environments, Mapping) or not environments:
            with checking(environments):
                fail("ENVIRONMENTS", dict(environments) if isinstance(environments, Mapping) else environments,
                     "at least one environment", "declare 'prod' and 'staging' entries")  # fmt: skip
        networks: dict[str, ipaddress.IPv4Network] = {}
        records: dict[str, str] = {}
        for name, env in environments.items():
            with checking(env, environments):
                if name in RESERVED_ENVIRONMENT_NAMES:
                    fail(
                        "ENVIRONMENTS key",
                        name,
                        RESERVED_ENVIRONMENT_NAMES[name],
                        "name the environment after its purpose, e.g. 'dev'",
                    )
                if not ENVIRONMENT_NAME.fullmatch(name):
                    fail(
                        "ENVIRONMENTS key",
                        name,
                        "2 to 10 lower-case letters or digits, starting with a letter (it becomes the "
                        "Terraform workspace and prefixes every resource name)",
                        "use a name such as 'staging'",
                    )
                if not isinstance(env, EnvironmentSettings):
                    fail(
                        f"ENVIRONMENTS[{name!r}]",
                        env,
                        "an EnvironmentSettings(...)",
                        "declare the entry with EnvironmentSettings(vpc_cidr=...)",
                    )
                net = env.validate(
                    name, services=self.services, region=self.project.region, az_count=self.project.az_count
                )
                self._check_name_lengths(name)
                for other, other_net in networks.items():
                    if net.overlaps(other_net):
                        fail(
                            f"ENVIRONMENTS[{name!r}].vpc_cidr",
                            env.vpc_cidr,
                            f"environments must not overlap (it overlaps {other_net}, the range of {other!r}), "
                            "so that they can be peered or reached over one VPN later",
                            "give each environment its own range",
                        )
                networks[name] = net
                record = env.record_name(name, self.project.name)
                if record in records:
                    fail(
                        f"ENVIRONMENTS[{name!r}].dns_record_name",
                        record,
                        f"unique across environments (ENVIRONMENTS[{records[record]!r}] uses it too): both "
                        "would claim one DNS record",
                        "give each environment its own record name",
                    )
                records[record] = name

    def _check_name_lengths(self, environment: str) -> None:
        """Load balancer and target group names carry the workspace and are capped at 32 characters."""
        longest = max((n for n, s in self.services.items() if s.behind_load_balancer), key=len)
        name = resource_name(environment, self.project.name, longest)
        if len(name) > LOAD_BALANCER_NAME_LIMIT:
            fail(
                f"ENVIRONMENTS key {environment!r} with ProjectSettings.name and SERVICES key",
                name,
                f"target group names are '<environment>-<name>-<service>' and AWS caps them at "
                f"{LOAD_BALANCER_NAME_LIMIT} characters (this one has {len(name)})",
                "shorten the environment, project or service name",
            )


def _texts(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a settings value, with the setting it belongs to: fields, mapping keys and values,
    tuple items."""
    if isinstance(value, str):
        yield where, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _texts(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key, where)
            yield from _texts(item, f"{where}[{key!r}]")
    elif isinstance(value, tuple):
        for item in value:
            yield from _texts(item, where)
