"""The state bootstrap: a stack of its own that creates the S3 bucket the main stack's backend uses.

It replaces the course's click-in-the-console step. Apply it once per account, before the main
stack's `terraform init`. Its own state is local (it cannot live in the bucket it creates), at a
relative path outside `terraform/`: `state-bootstrap/terraform.tfstate` in the project.

The bucket refuses deletion twice over: `prevent_destroy` stops Terraform from planning it, and
`force_destroy = false` stops AWS from deleting it while it holds state. Lifting both is a
deliberate act (README, "State bootstrap"): an override file beside the synthesis.
"""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformResourceLifecycle, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
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

from store2018.settings import Settings

# Relative to the stack's folder (terraform/stacks/bootstrap): the project's state-bootstrap/.
BOOTSTRAP_STATE_PATH = "../../../state-bootstrap/terraform.tfstate"
# Old state versions are kept this long: enough to roll back a bad apply, not forever.
NONCURRENT_VERSION_DAYS = 90


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
                    # SSE-KMS with the AWS-managed key (no key to pay for or keep); the bucket key
                    # keeps KMS requests, and their cost, low.
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms"
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
