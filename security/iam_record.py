"""What a Terraform run called, as IAM actions: the emulator's call record (local/emulator.py, `--record`).

Each line of a record names the service (SigV4's signing name), the API operation, the HTTP status and the
run's phase. IAM actions are mostly `<service prefix>:<operation>`; where they differ, the table below says
so, each from AWS's Service Authorization Reference (S3 names its actions after what they grant, not
after its API: `HeadObject` is `s3:GetObject`, `ListObjectsV2` is `s3:ListBucket`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# SigV4 signing name -> IAM service prefix, where they differ.
PREFIX_OF_SIGNING_NAME = {"monitoring": "cloudwatch"}
# (signing name, operation) -> the IAM action that authorises it, where it is not `<prefix>:<operation>`.
ACTION_OF_OPERATION = {
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetBucketCors"): "s3:GetBucketCORS",
    ("s3", "GetBucketAccelerateConfiguration"): "s3:GetAccelerateConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
}


@dataclass(frozen=True)
class Call:
    phase: str
    service: str  # the signing name
    operation: str
    status: int
    resource: str = ""  # S3's bucket or object ARN

    @property
    def action(self) -> str:
        return action_of(self.service, self.operation)


def action_of(service: str, operation: str) -> str:
    """The IAM action that authorises one API operation of a service (by its signing name)."""
    return (
        ACTION_OF_OPERATION.get((service, operation)) or f"{PREFIX_OF_SIGNING_NAME.get(service, service)}:{operation}"
    )


def read_record(path: Path) -> list[Call]:
    return [Call(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def actions(calls: Iterable[Call], phases: Iterable[str]) -> set[str]:
    """The actions of the calls made in these phases."""
    wanted = set(phases)
    return {call.action for call in calls if call.phase in wanted}
