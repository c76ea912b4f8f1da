"""The tests' names for `local/emulated.py`: the emulator, and Terraform run against it."""

from emulated import (
    BOOTSTRAP_STACK_DIR,
    ROOT,
    SYNTH_STACK_DIR,
    EmulatorEndpoint,
    MotoServer,
    TerraformResult,
    TerraformWorkdir,
    missing_tools,
    planned_resources,
)

__all__ = [
    "BOOTSTRAP_STACK_DIR",
    "ROOT",
    "SYNTH_STACK_DIR",
    "EmulatorEndpoint",
    "MotoServer",
    "TerraformResult",
    "TerraformWorkdir",
    "missing_tools",
    "planned_resources",
]
