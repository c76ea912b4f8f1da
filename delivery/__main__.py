"""`python -m delivery <command>`: the pipeline's steps (delivery/driver.py)."""

import sys

from delivery.driver import main

sys.exit(main())
