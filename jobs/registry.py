"""Job kinds and their handlers. Apps register kinds in AppConfig.ready(), so jobs never imports them."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    handler: Callable  # handler(ctx: jobs.runner.JobContext) -> None
    # Called with the job id after the final status is committed. A worker may die right before; the
    # app's sweep hook must therefore be able to reach the same outcome on its own.
    on_finish: Callable | None = None


_KINDS: dict[str, JobKind] = {}
_SWEEP_HOOKS: list[Callable[[], dict]] = []


def register(name: str, label: str, handler: Callable, *, on_finish: Callable | None = None) -> None:
    existing = _KINDS.get(name)
    if existing is not None and existing.handler is not handler:
        raise ValueError(f"job kind {name!r} is already registered")
    _KINDS[name] = JobKind(name=name, label=label, handler=handler, on_finish=on_finish)


def register_sweep_hook(hook: Callable[[], dict]) -> None:
    """Periodic repair an app needs beyond lease expiry (e.g. gathering fanned-out results)."""
    if hook not in _SWEEP_HOOKS:
        _SWEEP_HOOKS.append(hook)


def sweep_hooks() -> list[Callable[[], dict]]:
    return list(_SWEEP_HOOKS)


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None


def kind_names() -> list[str]:
    return sorted(_KINDS)
