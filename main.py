#!/usr/bin/env python
"""Synthesise the Store2018 stacks into `terraform/` (see README.md)."""

import dataclasses
import re
import sys
from pathlib import Path

# Our construct package lives in constructs/ without an __init__.py, so that the folder
# never shadows the `constructs` library cdktf imports (see README, "Layout").
sys.path.insert(0, str(Path(__file__).resolve().parent / "constructs"))


def misspelt_field(error: TypeError) -> str:
    """`EnvironmentSettings(log_retension_days=7)` reworded like every other setting mistake."""
    match = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(error))
    if not match:
        return f"{error}. Fix: use the field names the README lists under Settings"
    owner, name = match.groups()
    # The failing module is gone from sys.modules; its namespace survives in the traceback.
    tb, cls = error.__traceback__, None
    while tb is not None and cls is None:
        cls, tb = tb.tb_frame.f_globals.get(owner), tb.tb_next
    fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
    return (
        f"{owner} field = {name!r} is invalid: {owner} has no such field; it has {', '.join(fields)}. "
        "Fix: correct the spelling (README, Settings)"
    )


def run() -> int:
    try:
        from store2018.app import main
    except Exception as error:
        # The settings tables are built when their modules load: a repeated name (ConfigError) or a
        # misspelt field (TypeError) surfaces here, and is reported like any other setting mistake.
        if isinstance(error, TypeError):
            message = misspelt_field(error)
        elif type(error).__name__ == "ConfigError":
            message = str(error)
        else:
            raise
        print(f"Configuration error: {message}\nNothing was written to terraform/.", file=sys.stderr)
        return 2
    return main()


if __name__ == "__main__":
    sys.exit(run())
