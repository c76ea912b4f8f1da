#!/usr/bin/env python
"""Synthesise the Store2018 stack into `terraform/` (see README.md)."""

import sys
from pathlib import Path

# Our construct package lives in constructs/ without an __init__.py, so that the folder
# never shadows the `constructs` library cdktf imports (see README, "Layout").
sys.path.insert(0, str(Path(__file__).resolve().parent / "constructs"))

from store2018.app import main

if __name__ == "__main__":
    sys.exit(main())
