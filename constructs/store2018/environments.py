"""The values to edit: what the whole project shares, and the environments table.

`project()` is the same in every workspace; `environments()` holds one entry per Terraform
workspace (what differs between them). The services are in `catalog.py`. The fields, their types
and defaults: `settings.py`, or the README's settings reference. After an edit, `make synth`: a
mistake is refused with the setting, the value, what is allowed, the fix, and this file's line.
"""

from __future__ import annotations

from collections.abc import Mapping

from store2018.checks import table
from store2018.settings import EnvironmentSettings, NatGatewayMode, ProjectSettings, StateBackendSettings, TaskCount


def project() -> ProjectSettings:
    """Values the whole project shares, the same in every workspace."""
    return ProjectSettings(
        name="store2018",
        region="us-west-2",
        az_count=2,
        # S3 bucket names are global: set your own (the bootstrap stack creates it).
        state_backend=StateBackendSettings(
            bucket="store2018-terraform-state",
            key="store2018/terraform.tfstate",
            region="us-west-2",
        ),
        discovery_namespace="microservices.private",
        expose_api_paths=True,
        hosted_zone_id=None,
        # 'OWNER/NAME' of the GitHub repository whose Actions may plan and apply through OIDC (README, "Pipeline
        # credentials"): the bootstrap then creates its roles. "": no pipeline roles.
        github_repository="",
    )


def environments() -> Mapping[str, EnvironmentSettings]:
    """One `(name, EnvironmentSettings(...))` pair per Terraform workspace (a name given twice is
    refused). The course's CIDRs, task count and DNS names."""
    return table(
        "ENVIRONMENTS",
        ("prod", EnvironmentSettings(
            vpc_cidr="192.168.0.0/16",
            nat_gateway_mode=NatGatewayMode.ONE_PER_AZ,
            tasks=TaskCount(minimum=2, maximum=6),
            alb_deletion_protection=True,
            log_retention_days=30,
            flow_log_retention_days=90,
            dns_record_name="store2018",
        )),
        ("staging", EnvironmentSettings(
            vpc_cidr="172.17.0.0/16",
            nat_gateway_mode=NatGatewayMode.SINGLE,
            tasks=TaskCount(minimum=2, maximum=3),
            alb_deletion_protection=False,  # staging is torn down and rebuilt freely
            log_retention_days=7,
            flow_log_retention_days=7,
            dns_record_name="store2018test",
            ecs_exec=True,  # `aws ecs execute-command` may open a shell in staging's tasks (README)
        )),
    )  # fmt: skip
