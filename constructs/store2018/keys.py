"""Customer-managed KMS keys that one AWS service must be able to use on the account's behalf.

The key policy keeps AWS's default statement (the account's IAM policies decide who administers and
uses the key) and adds one statement for the service that encrypts with it: CloudWatch for the alarm
topic, CloudWatch Logs for the ECS Exec session logs. In a key policy, the resource `*` is the key
itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

KEY_DELETION_WINDOW_DAYS = 30


def account_root(account_id: str) -> str:
    """The account's root principal: in a policy it means "whatever the account's IAM policies allow"."""
    return f"arn:aws:iam::{account_id}:root"


class ServiceKey(Construct):
    """A rotated key with an alias, whose policy lets `service` (a service principal) call `actions`,
    under `conditions` if any. Exposes `arn`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        alias: str,
        account_id: str,
        sid: str,
        service: str,
        actions: Sequence[str],
        conditions: Sequence[DataAwsIamPolicyDocumentStatementCondition] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        policy = DataAwsIamPolicyDocument(
            self,
            "policy",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="AccountAdministersTheKey",
                    actions=["kms:*"],
                    resources=["*"],
                    principals=[
                        DataAwsIamPolicyDocumentStatementPrincipals(type="AWS", identifiers=[account_root(account_id)])
                    ],
                ),
                DataAwsIamPolicyDocumentStatement(
                    sid=sid,
                    actions=list(actions),
                    resources=["*"],
                    principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="Service", identifiers=[service])],
                    condition=list(conditions) or None,
                ),
            ],
        )
        key = KmsKey(
            self,
            "key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=policy.json,
        )
        KmsAlias(self, "alias", name=alias, target_key_id=key.key_id)
        self.arn: str = key.arn
