"""The state bootstrap stack: the S3 bucket the main stack's backend uses, synthesised beside it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import SETTINGS, bootstrap, settings_with

from store2018.settings import StateBackendSettings


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return bootstrap(SETTINGS)


def only(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (body,) = template["resource"][resource_type].values()
    found: dict[str, Any] = body
    return found


def test_local_state_at_a_relative_path_outside_terraform(template: dict[str, Any]) -> None:
    assert template["terraform"]["backend"] == {"local": {"path": "../../../state-bootstrap/terraform.tfstate"}}


def test_the_bucket_is_the_main_backends_and_refuses_deletion(template: dict[str, Any]) -> None:
    bucket = template["resource"]["aws_s3_bucket"]["state_bucket"]
    assert bucket == {"bucket": "store2018-terraform-state", "force_destroy": False,
                      "lifecycle": {"prevent_destroy": True}}  # fmt: skip
    other = bootstrap(
        settings_with(state_backend=StateBackendSettings(bucket="my-team-state", key="s.tfstate", region="eu-west-1"))
    )
    assert other["resource"]["aws_s3_bucket"]["state_bucket"]["bucket"] == "my-team-state"
    assert other["provider"]["aws"][0]["region"] == "eu-west-1"


def test_the_state_has_a_rotated_protected_key_named_by_the_backend(template: dict[str, Any], synthesized: str) -> None:
    key = only(template, "aws_kms_key")
    assert (key["enable_key_rotation"], key["deletion_window_in_days"]) == (True, 30)
    assert key["lifecycle"] == {"prevent_destroy": True}  # without the key the state cannot be read
    assert "policy" not in key  # AWS's default key policy: the account's IAM policies decide
    alias = only(template, "aws_kms_alias")
    assert alias == {"name": "alias/store2018-terraform-state", "target_key_id": "${aws_kms_key.state_key.key_id}"}
    main = json.loads(synthesized)  # the main stack
    assert main["terraform"]["backend"]["s3"]["kms_key_id"] == alias["name"]  # the backend writes with this key


def test_versioned_encrypted_private_owner_enforced_and_expiring_old_versions(template: dict[str, Any]) -> None:
    ref = "${aws_s3_bucket.state_bucket.id}"
    assert only(template, "aws_s3_bucket_versioning") == {
        "bucket": ref, "versioning_configuration": {"status": "Enabled"}}  # fmt: skip
    assert only(template, "aws_s3_bucket_server_side_encryption_configuration") == {
        "bucket": ref,
        "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms",
                                                              "kms_master_key_id": "${aws_kms_key.state_key.arn}"},
                  "bucket_key_enabled": True}],
    }  # fmt: skip
    assert only(template, "aws_s3_bucket_public_access_block") == {
        "bucket": ref, "block_public_acls": True, "block_public_policy": True, "ignore_public_acls": True,
        "restrict_public_buckets": True}  # fmt: skip
    assert only(template, "aws_s3_bucket_ownership_controls")["rule"] == {"object_ownership": "BucketOwnerEnforced"}
    (rule,) = only(template, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert rule["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]


def test_the_policy_refuses_every_request_without_tls(template: dict[str, Any]) -> None:
    (statement,) = template["data"]["aws_iam_policy_document"]["tls_only"]["statement"]
    assert statement == {
        "sid": "DenyInsecureTransport",
        "effect": "Deny",
        "actions": ["s3:*"],
        "principals": [{"type": "*", "identifiers": ["*"]}],
        "resources": ["${aws_s3_bucket.state_bucket.arn}", "${aws_s3_bucket.state_bucket.arn}/*"],
        "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
    }
    policy = only(template, "aws_s3_bucket_policy")
    assert policy["policy"] == "${data.aws_iam_policy_document.tls_only.json}"
    assert policy["depends_on"] == ["aws_s3_bucket_public_access_block.public_access_block"]
