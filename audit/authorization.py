"""Who may do what: one rule per state-changing action, and the one function every service calls first.

Each Django app (this one too) declares its rules in its own `rules.py` with
`@rule("<entity>.<action>", who=...)`; the app config imports that module when Django starts. A rule's check
returns `None` to allow, or the sentence that tells the actor why not; it may raise `NotFound` itself when the
object must stay invisible to the actor.
Services call `authorize(...)` before any write (a checklist row, an audit event, a file), so a refused
request changes nothing. Views and templates ask `may(...)` to show or hide a button, never to decide.

`manage.py rules` prints the whole table: the answer to "who may do X".
"""

from collections.abc import Callable
from dataclasses import dataclass

from .errors import NotAllowed, Refused
from .roles import ADMIN, roles_of


@dataclass(frozen=True)
class Rule:
    action: str
    who: str  # the answer in words, as `manage.py rules` prints it
    check: Callable[..., str | None]


_RULES: dict[str, Rule] = {}


def rule(action: str, *, who: str):
    """Register the check for `action`; an action has exactly one rule."""

    def register(check: Callable[..., str | None]):
        if action in _RULES and _RULES[action].check is not check:
            raise ValueError(f"{action} already has a rule")
        _RULES[action] = Rule(action=action, who=who, check=check)
        return check

    return register


def rule_for(action: str) -> Rule:
    try:
        return _RULES[action]
    except KeyError:
        raise KeyError(f"no rule for {action}: declare one in its app's rules.py") from None


def all_rules() -> list[Rule]:
    return sorted(_RULES.values(), key=lambda r: r.action)


def authorize(actor, action: str, **objects) -> None:
    """Raise `NotAllowed` (or the rule's own `NotFound`) unless `actor` may do `action` on `objects`."""
    check = rule_for(action).check
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise NotAllowed("sign in first", code="not_authenticated")
    reason = check(actor, **objects)
    if reason is not None:
        raise NotAllowed(reason)


def may(actor, action: str, **objects) -> bool:
    """The same answer as `authorize`, as a boolean (for showing buttons and links)."""
    try:
        authorize(actor, action, **objects)
    except Refused:
        return False
    return True


def has_role(actor, *roles: str) -> bool:
    return bool(set(roles_of(actor)) & set(roles))


def is_admin(actor) -> bool:
    return bool(getattr(actor, "is_superuser", False)) or has_role(actor, ADMIN)
