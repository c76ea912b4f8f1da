"""AWS's regions, pinned and dated: every region of every partition in the endpoint data of
botocore 1.44.8 (`botocore/data/endpoints.json`), read on 2026-11-30, and the ones this project
deploys to.

Pinned rather than read from botocore at synth: botocore is only a test dependency here, and
importing it costs more than the whole settings load. `tests/test_regions.py` compares this list
with the endpoint data of the botocore the tests install: an upgrade that knows a new region fails
there until the region is added here.
"""

from __future__ import annotations

from collections.abc import Mapping

SOURCE = "botocore 1.44.8 endpoints.json, read 2026-11-30"

#: Regions by partition.
REGIONS: Mapping[str, tuple[str, ...]] = {
    "aws": (
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
    ),
    "aws-cn": ("cn-north-1", "cn-northwest-1"),
    "aws-us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "aws-iso": ("us-iso-east-1", "us-iso-west-1"),
    "aws-iso-b": ("us-isob-east-1", "us-isob-west-1"),
    "aws-iso-e": ("eu-isoe-west-1",),
    "aws-iso-f": ("us-isof-east-1", "us-isof-south-1"),
    "aws-eusc": ("eusc-de-east-1",),
}

ALL_REGIONS = frozenset(region for regions in REGIONS.values() for region in regions)

#: Regions of the commercial partition that the tools this project is tested with do not know yet: Terraform
#: 1.11.4's S3 backend and the AWS provider 5.100.0 refuse them ("Invalid region value"); neither binary
#: names them (read from both on 2026-11-30). A newer Terraform and provider may: then drop them from here.
TOO_NEW = frozenset({"ap-east-2", "ap-southeast-6"})
#: Where this project deploys: the commercial partition (its ARNs are written `arn:aws:`), less TOO_NEW.
SUPPORTED_REGIONS = frozenset(REGIONS["aws"]) - TOO_NEW
