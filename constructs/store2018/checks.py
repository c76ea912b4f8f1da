"""The hand-written checks the settings use: the one error type, the helper that words its message,
a type check for the settings' dataclasses (a user editing the tables by hand may put "80" where 80
belongs), tables built from `(name, value)` pairs, and where in the settings files an entry was written.

Hand-written rather than a validation library: jsii pins typeguard 2.13.3, which accepts `True` for an
`int`; pydantic's strict mode would do, but every domain check stays hand-written anyway, and its import
alone costs more than loading and checking all the settings (README, "Measured figures").
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import ipaddress
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from store2018.aws_regions import ALL_REGIONS, SOURCE, SUPPORTED_REGIONS, TOO_NEW
from store2018.naming import DNS_LABEL

T = TypeVar("T")

#: Where a settings entry was written: (file, line) of the call that built it.
Origin = tuple[str, int]


class ConfigError(ValueError):
    """A setting is invalid. The message names it, the value, what is allowed and the fix;
    `origin` is the file and line of the entry it belongs to, when known."""

    def __init__(self, message: str, origin: Origin | None = None) -> None:
        super().__init__(message)
        self.origin = origin


def fail(setting: str, value: object, allowed: str, fix: str) -> NoReturn:
    raise ConfigError(f"{setting} = {value!r} is invalid: {allowed}. Fix: {fix}")


# Frames that build or validate settings; the first frame outside them is where the user wrote the entry.
_INTERNAL_FILES = {__file__, str(Path(__file__).with_name("settings.py")), dataclasses.__file__, "<string>"}


def record_origin(instance: object) -> None:
    """Remember where `instance` was written (called from a settings dataclass's `__post_init__`)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in _INTERNAL_FILES:
        frame = frame.f_back  # type: ignore[assignment]
    origin = (frame.f_code.co_filename, frame.f_lineno) if frame is not None else None
    object.__setattr__(instance, "_origin", origin)  # not a field: equality and repr ignore it


def origin_of(instance: object) -> Origin | None:
    origin: Origin | None = getattr(instance, "_origin", None)
    return origin


@contextmanager
def checking(*instances: object) -> Iterator[None]:
    """A ConfigError raised while checking points at where the first of `instances` that knows it was
    written (an entry, then the table it sits in)."""
    try:
        yield
    except ConfigError as error:
        if error.origin is None:
            error.origin = next((o for o in map(origin_of, instances) if o is not None), None)
        raise


class Written:
    """Base of the settings' dataclasses: an entry remembers where it was written, so that a ConfigError
    found while checking it points there (a subclass's own `__post_init__` calls this one first)."""

    def __post_init__(self) -> None:
        record_origin(self)


class Checked(Written):
    """An entry checked in the context of the one that holds it (`setting` names it in messages)."""

    def validate(self, setting: str) -> None:
        with checking(self):
            self.check(setting)

    def check(self, setting: str) -> None:
        raise NotImplementedError


class Table(Mapping[str, T]):
    """A read-only table that remembers where it was written."""

    def __init__(self, entries: dict[str, T]) -> None:
        self._entries = entries
        record_origin(self)

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return repr(self._entries)


def table(setting: str, *entries: tuple[str, T]) -> Mapping[str, T]:
    """A read-only table from `(name, value)` pairs. Unlike a dict literal, where a repeated key
    silently replaces the first entry, a repeated name is refused."""
    seen: dict[str, T] = {}
    for entry in entries:
        if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str)):
            fail(f"{setting} entry", entry, "a pair (name, settings)", f"write ('name', ...) in {setting}")
        name, value = entry
        if name in seen:
            with checking(value):
                fail(f"{setting} name", name, "each name once (a second entry would replace the first)",
                     "rename one of the two entries or merge them")  # fmt: skip
        seen[name] = value
    return Table(seen)


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
    example = f", e.g. {default!r}" if default not in (dataclasses.MISSING, None) else ""
    return f"write a value of that type{example}"


def is_count(value: object) -> bool:
    """A whole number of at least 0 (`True` is not a count, although Python calls it an int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_region(setting: str, region: str) -> None:
    if region in SUPPORTED_REGIONS:
        return
    supported = ", ".join(sorted(SUPPORTED_REGIONS))
    if region in TOO_NEW:
        fail(setting, region, f"a region Terraform 1.11.4 and the AWS provider 5.100.0 know ({supported}); this one "
             "is newer than them", "choose another region, or upgrade both and update aws_regions.TOO_NEW")  # fmt: skip
    if region in ALL_REGIONS:
        fail(setting, region, f"a region of AWS's commercial partition ({supported}); this one is in another "
             "partition, whose ARNs this project does not write", "choose a commercial region")  # fmt: skip
    close = difflib.get_close_matches(region, sorted(SUPPORTED_REGIONS), n=1)
    fail(
        setting,
        region,
        f"an AWS region ({SOURCE}): {supported}",
        f"did you mean {close[0]!r}?" if close else f"set {setting} to the region you deploy to",
    )


def check_bucket_name(setting: str, bucket: str, fix: str) -> None:
    rule = (
        "an S3 bucket name: 3 to 63 characters of lower-case letters, digits, dots and hyphens, starting and "
        "ending with a letter or digit, no '..', not an IP address, no 'xn--' prefix or '-s3alias' suffix"
    )
    if (
        not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket)
        or ".." in bucket
        or re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+", bucket)
        or bucket.startswith("xn--")
        or bucket.endswith("-s3alias")
    ):
        fail(setting, bucket, rule, fix)


def check_dns_label(setting: str, label: str, fix: str) -> None:
    if not DNS_LABEL.fullmatch(label):
        fail(setting, label, "one DNS label: lower-case letters, digits and inner hyphens, at most 63 characters", fix)


def parse_private_network(setting: str, cidr: str) -> ipaddress.IPv4Network:
    """An RFC 1918 IPv4 network in CIDR notation, with no host bits set."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        fail(
            setting,
            cidr,
            "expected an IPv4 network in CIDR notation with no host bits set",
            "use a private range such as '10.0.0.0/16'",
        )
    if str(net) != cidr:  # ipaddress also takes '10.0.0.0/255.255.0.0', which Terraform's cidrsubnet() refuses
        fail(setting, cidr, "a network in CIDR notation, e.g. '10.0.0.0/16'", f"write {str(net)!r}")
    if not isinstance(net, ipaddress.IPv4Network) or not any(net.subnet_of(r) for r in RFC1918):
        fail(
            setting,
            cidr,
            "the VPC must use a private IPv4 range (RFC 1918: 10/8, 172.16/12, 192.168/16)",
            "use a private range such as '10.0.0.0/16'",
        )
    return net


RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
