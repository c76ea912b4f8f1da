"""How a setting's text reaches Terraform: exactly as written, or not at all.

Terraform reads a string differently depending on where it lands in the synthesised JSON:

- `LITERAL`: the top-level `terraform` block (the S3 backend's settings) is read as written. Nothing
  may be escaped there: an escaped `$${x}` would name a state file `$${x}`.
- `TEMPLATE`: every other string (resources, locals, outputs) is a template: `${` starts an
  interpolation and `%{` a directive; `$${` and `%%{` are their escapes.
- `EXPRESSION`: a string that cdktf writes as a literal inside an expression, `${ ... }` (the
  container definitions' `jsonencode`), is an HCL string literal in a template: it also needs `\\"`,
  `\\\\` and escapes for control characters. cdktf escapes `${` there itself (and only that), so
  `expression_string` leaves it to cdktf: escaping it twice would add a `$`.

cdktf's own token markers become live references at synth, in any context: `${TfToken[TOKEN.1]}`
(and its list and map forms), and a number whose bits mark a numeric token, such as
`-1.8881545897087626e+289` (cdktf reads every number-shaped run of a string and swaps a token's
number for its reference). Text that contains one is always refused (`check_text`), as are a NUL (no
process environment or AWS API takes one) and lone surrogates (not Unicode text). The settings check every string with
`check_text`; each setting's treatment is declared in `TREATMENTS` and shown in the README's settings
reference; `tests/test_terraform_text.py` proves with the real Terraform that escaped values arrive
exactly as written.
"""

from __future__ import annotations

import enum
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from store2018.checks import fail

# cdktf encodes tokens in strings as `${TfToken[...]}`, in lists as `#{TfToken[...]}`, in maps as `&{TfToken[...]}`.
TOKEN_MARKER = re.compile(r"TfToken\[")
# What cdktf 0.21 reads as a number in a string (tokens/private/encoding.js NUMBER_TOKEN_REGEX), and the top
# 16 bits of a double that encodes a numeric token or a list of them.
NUMBER_IN_TEXT = re.compile(r"[-|0-9.+]+(e[-|0-9.eE+]+)")
NUMBER_TOKEN_BITS = (0xFDFF, 0xFBFF)
_JS_FLOAT_PREFIX = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class Context(enum.Enum):
    LITERAL = "the backend block, read as written"
    TEMPLATE = "a template string"
    EXPRESSION = "a string literal inside an expression"


@dataclass(frozen=True)
class Treatment:
    """Where a setting's text lands, and whether it is escaped there or its own check refuses every
    character that would need escaping."""

    context: Context
    escaped: bool

    def describe(self) -> str:
        if self.escaped:
            return f"escaped ({self.context.name.lower()})"
        return f"refused if special ({self.context.name.lower()})"


_ESCAPED_TEMPLATE = Treatment(Context.TEMPLATE, escaped=True)
_ESCAPED_EXPRESSION = Treatment(Context.EXPRESSION, escaped=True)
_CHECKED_TEMPLATE = Treatment(Context.TEMPLATE, escaped=False)
_CHECKED_EXPRESSION = Treatment(Context.EXPRESSION, escaped=False)
_CHECKED_LITERAL = Treatment(Context.LITERAL, escaped=False)

#: Every text setting, by `Class.field`: where it lands and how. A test fails for a text field missing here.
TREATMENTS: Mapping[str, Treatment] = {
    "ProjectSettings.name": _CHECKED_TEMPLATE,
    "ProjectSettings.region": _CHECKED_EXPRESSION,  # the provider, and awslogs-region in the containers
    "ProjectSettings.discovery_namespace": _CHECKED_EXPRESSION,  # the namespace, and the services' URLs
    "ProjectSettings.hosted_zone_id": _CHECKED_TEMPLATE,
    "ProjectSettings.github_repository": _CHECKED_TEMPLATE,  # the bootstrap's trust policies
    "ProjectSettings.github_oidc_provider_arn": _CHECKED_TEMPLATE,
    "StateBackendSettings.bucket": _CHECKED_LITERAL,  # also the bootstrap stack's bucket (a template)
    "StateBackendSettings.key": _CHECKED_LITERAL,
    "StateBackendSettings.region": _CHECKED_LITERAL,
    "StateBackendSettings.workspace_key_prefix": _CHECKED_LITERAL,
    "EnvironmentSettings.vpc_cidr": _CHECKED_TEMPLATE,
    "EnvironmentSettings.allowed_account_ids": _CHECKED_TEMPLATE,
    "EnvironmentSettings.alb_access_logs_bucket": _CHECKED_TEMPLATE,
    "EnvironmentSettings.certificate_arn": _CHECKED_TEMPLATE,
    "EnvironmentSettings.dns_record_name": _CHECKED_TEMPLATE,
    "EnvironmentSettings.zone_ids": _CHECKED_TEMPLATE,
    "EnvironmentSettings.services": _CHECKED_TEMPLATE,  # catalog names
    "ServiceSpec.image": _CHECKED_EXPRESSION,
    "ServiceSpec.discovery_name": _CHECKED_EXPRESSION,  # Cloud Map, and the callers' URLs
    "ServiceSpec.health_check_path": _ESCAPED_TEMPLATE,
    "ServiceSpec.environment": _ESCAPED_EXPRESSION,  # names: refused if special; values: escaped
    "ServiceSpec.api_base_path": _ESCAPED_EXPRESSION,  # in the callers' URLs
    "ServiceSpec.api_base_variables": _CHECKED_EXPRESSION,
    "ServiceSpec.public_paths": _CHECKED_TEMPLATE,
    "ServiceSpec.writable_paths": _CHECKED_EXPRESSION,  # volume names and mount points in the containers
    "ServiceSpec.secrets": _CHECKED_EXPRESSION,  # the variables' names in the containers
    "ServiceOverrides.secrets": _CHECKED_TEMPLATE,  # the variables' names in the environments table
    "Secret.arn": _CHECKED_TEMPLATE,  # in the environments table
    "Secret.kms_key_arn": _CHECKED_TEMPLATE,
    "Alerting.email": _CHECKED_TEMPLATE,
    "ContainerHealthCheck.command": _ESCAPED_EXPRESSION,  # in the containers
}


def numeric_token_in(value: str) -> str | None:
    """The run of `value` that cdktf would take for a numeric token (parsed as JavaScript's parseFloat does)."""
    for match in NUMBER_IN_TEXT.finditer(value):
        prefix = _JS_FLOAT_PREFIX.match(match.group())
        if prefix is None:
            continue
        number = float(prefix.group())
        if math.isfinite(number) and struct.unpack("<Q", struct.pack("<d", number))[0] >> 48 in NUMBER_TOKEN_BITS:
            return match.group()
    return None


def check_text(setting: str, value: str) -> None:
    """Refuse what no context can carry exactly: cdktf's token markers, NUL, lone surrogates."""
    number = numeric_token_in(value)
    if number is not None:
        fail(setting, value, f"text without {number!r}, which cdktf reads as one of its numeric tokens (it "
             "would turn it into a live reference to another value)", "write the number differently")  # fmt: skip
    if TOKEN_MARKER.search(value):
        fail(setting, value, "text without cdktf's token marker 'TfToken[' (cdktf would turn it into a live "
             "reference to another resource)", "remove the marker")  # fmt: skip
    if "\x00" in value:
        fail(setting, value, "text without a NUL character (no process environment or AWS API takes one)",
             "remove the NUL")  # fmt: skip
    if any("\ud800" <= c <= "\udfff" for c in value):
        fail(setting, value, "Unicode text (a lone surrogate is not a character)", "write the character itself")


def template(value: str) -> str:
    """`value` as a template string that Terraform reads back exactly."""
    return value.replace("${", "$${").replace("%{", "%%{")


def expression_string(value: str) -> str:
    """`value` as the content of a string literal that cdktf writes inside an expression: Terraform reads
    it back exactly once cdktf has escaped its `${` (which cdktf does to every such literal)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%{", "%%{")
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped)
