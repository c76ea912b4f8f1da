"""The security gate: checkov over the synthesis and every workspace's plan (`make scan`, `make gate`), the
gate's IAM rule, and the IAM evaluator and call record the tests use.

The project's construct package (`store2018`, in constructs/) is importable from here as it is from main.py
and delivery/: the IAM rule reads the pipeline policies' constants.
"""

import sys
from pathlib import Path

_CONSTRUCTS = str(Path(__file__).resolve().parents[1] / "constructs")
if _CONSTRUCTS not in sys.path:
    sys.path.insert(0, _CONSTRUCTS)
