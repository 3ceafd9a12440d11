"""Job kinds and their handlers. Apps register kinds in AppConfig.ready(), so jobs never imports them."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    handler: Callable  # handler(ctx: jobs.runner.JobContext) -> None


_KINDS: dict[str, JobKind] = {}


def register(name: str, label: str, handler: Callable) -> None:
    existing = _KINDS.get(name)
    if existing is not None and existing.handler is not handler:
        raise ValueError(f"job kind {name!r} is already registered")
    _KINDS[name] = JobKind(name=name, label=label, handler=handler)


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None


def kind_names() -> list[str]:
    return sorted(_KINDS)
