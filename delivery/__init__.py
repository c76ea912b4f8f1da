"""The delivery pipeline's steps, run by CI and by people: `python -m delivery --help` (README, "Delivery").

The project's construct package (`store2018`, in constructs/) is importable from here as it is from
main.py: constructs/ has no __init__.py, so that it never shadows the `constructs` library.
"""

import sys
from pathlib import Path

_CONSTRUCTS = str(Path(__file__).resolve().parents[1] / "constructs")
if _CONSTRUCTS not in sys.path:
    sys.path.insert(0, _CONSTRUCTS)
