"""The one switch that lets development license keys verify: OEM_ALLOW_DEVELOPMENT_LICENSES=true.

Licenses, registry lines and CRLs signed with the committed development key are refused unless the switch is
set to exactly `true` (`make run` sets it for the demo and the console then shows a red banner on every
page). Unset, empty or `false` refuses; any other value is a one-line error rather than a guess. The switch
is refused outright when OEM_ENV is `production`, so a production install cannot be talked into it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DEV_SWITCH_ENV = "OEM_ALLOW_DEVELOPMENT_LICENSES"


class DevelopmentSwitchError(ValueError):
    """The switch holds a value other than true/false, or is on in production. One line."""


def development_licenses_allowed(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    value = (environ.get(DEV_SWITCH_ENV) or "").strip()
    if value in ("", "false"):
        return False
    if value != "true":
        raise DevelopmentSwitchError(f"{DEV_SWITCH_ENV}={value[:20]!r} must be true or false")
    if (environ.get("OEM_ENV") or "").strip().lower() == "production":
        raise DevelopmentSwitchError(f"{DEV_SWITCH_ENV}=true is refused when OEM_ENV=production")
    return True


def resolve(allow_development_keys: bool | None) -> bool:
    """An explicit choice wins; None (every default) asks the switch, so the default is production-like."""
    return development_licenses_allowed() if allow_development_keys is None else allow_development_keys
