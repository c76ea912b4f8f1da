"""The pinned list of AWS regions matches the endpoint data of the botocore the tests install."""

from __future__ import annotations

import json
from pathlib import Path

import botocore

from store2018.aws_regions import REGIONS, SOURCE


def test_the_pinned_regions_are_botocores() -> None:
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    known = {p["partition"]: tuple(sorted(p["regions"])) for p in data["partitions"]}
    assert dict(REGIONS) == known, (
        f"botocore {botocore.__version__} knows other regions than constructs/store2018/aws_regions.py "
        f"({SOURCE}): update the list and its date"
    )
