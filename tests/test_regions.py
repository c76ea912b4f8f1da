"""The pinned list of AWS regions matches the endpoint data of the botocore the tests install."""

from __future__ import annotations

import json
from pathlib import Path

import botocore

from store2018.aws_regions import REGIONS, SOURCE, SUPPORTED_REGIONS, TOO_NEW


def test_the_pinned_regions_are_botocores() -> None:
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    known = {p["partition"]: tuple(sorted(p["regions"])) for p in data["partitions"]}
    assert dict(REGIONS) == known, (
        f"botocore {botocore.__version__} knows other regions than constructs/store2018/aws_regions.py "
        f"({SOURCE}): update the list and its date"
    )


def test_the_supported_regions_are_the_commercial_ones_the_tools_know() -> None:
    assert frozenset(REGIONS["aws"]) > TOO_NEW
    assert frozenset(REGIONS["aws"]) - TOO_NEW == SUPPORTED_REGIONS
    assert {"us-west-2", "eu-central-1"} <= SUPPORTED_REGIONS and "cn-north-1" not in SUPPORTED_REGIONS
