"""Small helpers for Terraform expressions that cdktf's `Fn` would escape or name unreadably."""

from __future__ import annotations

from typing import Any

from cdktf import Fn, TerraformCount, TerraformDataSource, TerraformLocal, TerraformResource, Token
from constructs import Construct


def named_local(scope: Construct, name: str, expression: Any) -> TerraformLocal:
    """A local with a readable, stable name: `local.<name>` rather than a hashed id.

    A `${...}` expression held by a local is not escaped, unlike the same text passed to `Fn.*`."""
    local = TerraformLocal(scope, name, expression)
    local.override_logical_id(name)
    return local


def address(resource: TerraformResource | TerraformDataSource) -> str:
    """The resource's Terraform address (`type.name`, `data.type.name`), for expressions cdktf cannot build
    (splats, `[0]`)."""
    prefix = "data." if isinstance(resource, TerraformDataSource) else ""
    return f"{prefix}{resource.terraform_resource_type}.{resource.friendly_unique_id}"


def count_if(enabled: Any) -> TerraformCount:
    """`count = <enabled> ? 1 : 0`: a resource that exists only where a workspace's flag is true."""
    return TerraformCount.of(Token.as_number(Fn.conditional(enabled, 1, 0)))
