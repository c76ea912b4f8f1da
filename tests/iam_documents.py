"""The pipeline's IAM documents as IAM would hold them: the bootstrap's synthesised `aws_iam_policy_document`
data sources, their references resolved to what they name in one example account, in IAM's JSON.

Also the settings the issue's exploit was tried on: a secret of staging's own in the catalog, and a
prod-only SSM parameter under a customer-managed key in prod's overrides.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from security.iam_policy import from_terraform
from store2018.settings import Secret, ServiceOverrides, Settings

ACCOUNT = "123456789012"
REGION = "us-west-2"
REPOSITORY = "octo-org/store2018"
STATE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/5a7e0000-0000-4000-8000-000000000001"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ZONE_ID, ZONE_NAME = "Z0123456789EXAMPLE", "example.com"

# The exploit's settings: staging reads the catalog's parameter; prod's override is its own, under its own key.
STAGING_PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/store2018/staging/db-password"
PROD_PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/store2018/prod/db-password"
PROD_SECRET_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0bad0000-0000-4000-8000-000000000002"


def exploit_settings(settings: Settings, **project: Any) -> Settings:
    """`settings` with a repository named, the account service's `DB_PASSWORD` in staging's parameter (the
    catalog's) and in prod's (an override, under a customer-managed key)."""
    from conftest import settings_with

    account = replace(settings.services["account"], secrets={"DB_PASSWORD": Secret(arn=STAGING_PARAMETER)})
    prod_secret = Secret(arn=PROD_PARAMETER, kms_key_arn=PROD_SECRET_KEY)
    prod = replace(settings.environments["prod"],
                   services={"account": ServiceOverrides(secrets={"DB_PASSWORD": prod_secret})})  # fmt: skip
    return settings_with(services={**settings.services, "account": account},
                         environments={**settings.environments, "prod": prod},
                         github_repository=REPOSITORY, **project)  # fmt: skip


def _references(template: dict[str, Any]) -> dict[str, str]:
    """What each `${...}` of the bootstrap's IAM documents stands for in the example account."""
    resources = template.get("resource", {})
    found = {f"aws_iam_policy.{address}.arn": f"arn:aws:iam::{ACCOUNT}:policy/{body['name']}"
             for address, body in resources.get("aws_iam_policy", {}).items()}  # fmt: skip
    found |= {f"aws_s3_bucket.{address}.arn": f"arn:aws:s3:::{body['bucket']}"
              for address, body in resources.get("aws_s3_bucket", {}).items()}  # fmt: skip
    found |= {f"aws_kms_key.{address}.arn": STATE_KEY_ARN for address in resources.get("aws_kms_key", {})}
    found |= {f"aws_iam_openid_connect_provider.{address}.arn": PROVIDER_ARN
              for address in resources.get("aws_iam_openid_connect_provider", {})}  # fmt: skip
    data = template.get("data", {})
    found |= {
        f"data.aws_caller_identity.{address}.account_id": ACCOUNT for address in data.get("aws_caller_identity", {})
    }
    found |= {f'lower(trimsuffix(data.aws_route53_zone.{address}.name, "."))': ZONE_NAME
              for address in data.get("aws_route53_zone", {})}  # fmt: skip
    return found


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """`value` with every reference replaced; a reference not known here fails the test that asked."""
    references = _references(template)

    def one(match: re.Match[str]) -> str:
        inner = match.group(1).replace('\\"', '"')
        assert inner in references, f"unresolved reference ${{{inner}}}"
        return references[inner]

    text = re.sub(r"\$\{((?:[^{}]|\{[^}]*\})*)\}", one, json.dumps(value))
    return json.loads(text)


def document(template: dict[str, Any], construct_id: str) -> dict[str, Any]:
    """The resolved document of the data source built as `github_oidc/<construct_id>`."""
    (found,) = [body for address, body in template["data"]["aws_iam_policy_document"].items()
                if re.fullmatch(rf"github_oidc_{construct_id}_[0-9A-F]{{8}}", address)]  # fmt: skip
    resolved: dict[str, Any] = resolve(from_terraform(found["statement"]), template)
    return resolved


def role_documents(template: dict[str, Any], role: str, workspace: str) -> list[dict[str, Any]]:
    """Every permission document of a pipeline role (`plan` or `apply`): its inline and managed policies."""
    names = [re.sub(r"_[0-9A-F]{8}$", "", address).removeprefix("github_oidc_")
             for address in template["data"]["aws_iam_policy_document"]
             if re.fullmatch(rf"github_oidc_{role}_{workspace}_(read|iam|managed_[0-9])_document_[0-9A-F]{{8}}",
                             address)]  # fmt: skip
    assert names, (role, workspace)
    return [document(template, name) for name in sorted(names)]


def boundary_document(template: dict[str, Any], workspace: str | None) -> dict[str, Any]:
    """A workspace's workload boundary, or (None) the shared boundary of earlier versions."""
    return document(template, "workload_boundary_document" if workspace is None else
                    f"workload_boundary_{workspace}_document")  # fmt: skip


def boundary_arn(workspace: str | None) -> str:
    suffix = "" if workspace is None else f"-{workspace}"
    return f"arn:aws:iam::{ACCOUNT}:policy/store2018-workload-boundary{suffix}"
