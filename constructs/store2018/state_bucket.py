"""The state bootstrap: a stack of its own that creates the S3 bucket the main stack's backend uses.

It replaces the course's click-in-the-console step. Apply it once per account, before the main
stack's `terraform init`. Its own state is local (it cannot live in the bucket it creates), at a
relative path outside `terraform/`: `state-bootstrap/terraform.tfstate` in the project.

The state is encrypted with a customer-managed KMS key of its own (rotated yearly), the bucket's
default and the key the main stack's backend names (`kms_key_id`, by its alias `state_key_alias`):
with `encrypt = true` and no key id the backend would ask S3 for SSE-S3 (AES256) on every write.

The bucket refuses deletion twice over: `prevent_destroy` stops Terraform from planning it, and
`force_destroy = false` stops AWS from deleting it while it holds state. Lifting both is a
deliberate act (README, "State bootstrap"): an override file beside the synthesis. The key has
`prevent_destroy` too: without it the state cannot be read.

With `ProjectSettings.github_repository` set, it also creates the pipeline's credentials: GitHub's OIDC
provider, per workspace a plan role, an apply role and the boundary of its main stack's roles (`github_oidc.py`).
"""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformResourceLifecycle, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from store2018.github_oidc import GithubOidc, enabled
from store2018.settings import Settings

# Relative to the stack's folder (terraform/stacks/bootstrap): the project's state-bootstrap/.
BOOTSTRAP_STATE_PATH = "../../../state-bootstrap/terraform.tfstate"
# Old state versions are kept this long: enough to roll back a bad apply, not forever.
NONCURRENT_VERSION_DAYS = 90
# A deleted key can be restored for this long (AWS's maximum).
KEY_DELETION_WINDOW_DAYS = 30


def state_key_alias(settings: Settings) -> str:
    """The state key's alias, in the backend's region: what the main stack's backend names."""
    return f"alias/{settings.project.name}-terraform-state"


class StateBootstrapStack(TerraformStack):
    """The S3 state bucket: versioned, encrypted, private, TLS only, protected from deletion."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        backend = settings.project.state_backend
        LocalBackend(self, path=BOOTSTRAP_STATE_PATH)
        AwsProvider(
            self,
            "aws",
            region=backend.region,
            default_tags=[
                AwsProviderDefaultTags(tags={"Project": settings.project.name, "Purpose": "terraform-state",
                                             "ManagedBy": "cdktf"})
            ],
        )  # fmt: skip

        key = KmsKey(
            self,
            "state_key",
            description=f"Terraform state of {settings.project.name} (S3 bucket {backend.bucket})",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            # No policy: AWS's default key policy, under which the account's IAM policies decide who may use it.
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        KmsAlias(self, "state_key_alias", name=state_key_alias(settings), target_key_id=key.key_id)

        bucket = S3Bucket(
            self,
            "state_bucket",
            bucket=backend.bucket,
            force_destroy=False,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        S3BucketVersioningA(
            self,
            "versioning",
            bucket=bucket.id,
            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
        )
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket.id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    # SSE-KMS with the state key; the bucket key keeps KMS requests, and their cost, low.
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms", kms_master_key_id=key.arn
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        public_access_block = S3BucketPublicAccessBlock(
            self,
            "public_access_block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket.id,
            rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        S3BucketLifecycleConfiguration(
            self,
            "lifecycle",
            bucket=bucket.id,
            rule=[
                S3BucketLifecycleConfigurationRule(
                    id="expire-old-state-versions",
                    status="Enabled",
                    filter=[S3BucketLifecycleConfigurationRuleFilter()],  # the whole bucket
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=NONCURRENT_VERSION_DAYS
                        )
                    ],
                    abort_incomplete_multipart_upload=[
                        S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)
                    ],
                )
            ],
        )
        tls_only = DataAwsIamPolicyDocument(
            self,
            "tls_only",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    actions=["s3:*"],
                    principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="*", identifiers=["*"])],
                    resources=[bucket.arn, f"{bucket.arn}/*"],
                    condition=[
                        DataAwsIamPolicyDocumentStatementCondition(
                            test="Bool", variable="aws:SecureTransport", values=["false"]
                        )
                    ],
                )
            ],
        )
        # After the public access block: a policy PUT can race it on a new bucket.
        S3BucketPolicy(self, "policy", bucket=bucket.id, policy=tls_only.json, depends_on=[public_access_block])

        TerraformOutput(self, "bucket_name", value=bucket.bucket, description="The main stack's state bucket")
        TerraformOutput(self, "bucket_arn", value=bucket.arn)
        TerraformOutput(self, "state_key_arn", value=key.arn, description="The KMS key encrypting the state")

        if enabled(settings):  # the pipeline's credentials (github_oidc.py); nothing when no repository is named
            github = GithubOidc(
                self, "github_oidc", settings=settings, state_bucket_arn=bucket.arn, state_key_arn=key.arn
            )
            TerraformOutput(self, "github_oidc_provider_arn", value=github.provider_arn,
                            description="The OIDC provider the pipeline's roles trust")  # fmt: skip
            TerraformOutput(self, "github_plan_role_arns", value=github.plan_role_arns,
                            description="Per workspace, the role pull requests and main plan with")  # fmt: skip
            TerraformOutput(self, "github_apply_role_arns", value=github.apply_role_arns,
                            description="Per workspace, the role its GitHub environment applies with")  # fmt: skip
            TerraformOutput(self, "workload_boundary_arns", value=github.boundary_arns,
                            description="Per workspace, the boundary every role of its main stack carries")  # fmt: skip
