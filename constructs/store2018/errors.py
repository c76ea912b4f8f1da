"""The one error type for invalid settings, the helper that words its message, and a type check
for the settings' dataclasses (a user editing the tables by hand may put "80" where 80 belongs)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, NoReturn


class ConfigError(ValueError):
    """A setting is invalid. The message names it, the value, what is allowed and the fix."""


def fail(setting: str, value: object, allowed: str, fix: str) -> NoReturn:
    raise ConfigError(f"{setting} = {value!r} is invalid: {allowed}. Fix: {fix}")


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        item = args[0] if args else Any
        return isinstance(value, tuple) and all(_matches(v, item) for v in value)
    if origin is Mapping or hint is Mapping:
        key, item = args if args else (Any, Any)
        return isinstance(value, Mapping) and all(_matches(k, key) and _matches(v, item) for k, v in value.items())
    return isinstance(value, origin or hint)


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if hint is type(None):
        return "None"
    if origin is tuple:
        return f"a tuple of {_describe(args[0])}" if args else "a tuple"
    if origin is Mapping:
        return f"a mapping of {_describe(args[0])} to {_describe(args[1])}" if args else "a mapping"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"one of {[m.name for m in hint]} ({hint.__name__}.X)"
    return getattr(hint, "__name__", str(hint))


def check_types(instance: Any, where: str, *, skip: tuple[str, ...] = ()) -> None:
    """Every field of a settings dataclass holds the type its annotation names, or ConfigError.
    `skip` names fields whose entries are checked one by one elsewhere, with better messages."""
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        if f.name in skip:
            continue
        value = getattr(instance, f.name)
        if not _matches(value, hints[f.name]):
            fail(f"{where}.{f.name}", value, f"expected {_describe(hints[f.name])}", _fix(hints[f.name], f.default))


def _fix(hint: Any, default: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "use " + " or ".join(f"{hint.__name__}.{m.name}" for m in hint)
    if typing.get_origin(hint) is tuple:
        return "write a tuple, e.g. ('a',) or ('a', 'b'): a one-element tuple needs its trailing comma"
    example = f", e.g. {default!r}" if default is not dataclasses.MISSING else ""
    return f"write a value of that type{example}"


def table(setting: str, *entries: tuple[str, Any]) -> Mapping[str, Any]:
    """A read-only table from `(name, value)` pairs. Unlike a dict literal, where a repeated key
    silently replaces the first entry, a repeated name is refused."""
    seen: dict[str, Any] = {}
    for entry in entries:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
            fail(f"{setting} entry", entry, "a pair (name, settings)", f"write ('name', ...) in {setting}")
        name, value = entry
        if name in seen:
            fail(f"{setting} name", name, "each name once (a second entry would replace the first)",
                 "rename one of the two entries or merge them")  # fmt: skip
        seen[name] = value
    return types.MappingProxyType(seen)
