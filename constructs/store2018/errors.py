"""The one error type for invalid settings, and the helper that words its message."""

from __future__ import annotations

from typing import NoReturn


class ConfigError(ValueError):
    """A setting is invalid. The message names it, the value, what is allowed and the fix."""


def fail(setting: str, value: object, allowed: str, fix: str) -> NoReturn:
    raise ConfigError(f"{setting} = {value!r} is invalid: {allowed}. Fix: {fix}")
