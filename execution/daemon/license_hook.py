"""The one place the daemon calls the licensing verifier (licensing.core.verify.verify_license).

Reads ``<data_dir>/licenses/license.json``, collects a fresh fingerprint of this machine, the vendor CRL and
the signed high-water mark, and returns (valid, summary, reasons). Any error is a reason, never an exception:
the gate fails closed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from audit.trust.keyring import KeyRing


@dataclass(frozen=True)
class LicenseCheck:
    valid: bool
    summary: str
    reasons: list[str] = field(default_factory=list)
    expires_at: datetime | None = None


def check_license(
    *, data_dir: Path, keyring: KeyRing, stage: str, now: datetime | None = None
) -> LicenseCheck:
    now = now or datetime.now(UTC)
    path = Path(data_dir) / "licenses" / "license.json"
    if not path.exists():
        return LicenseCheck(False, "no license installed", [f"no license installed ({path} is missing)"])
    try:
        from licensing.core.cli import system_probe
        from licensing.core.device import check_installed_license

        # Development license keys only with OEM_ALLOW_DEVELOPMENT_LICENSES=true (`make run`); the installed
        # license must pin this installation's trust root; CRL and high-water mark are witnessed.
        status = check_installed_license(
            Path(data_dir),
            keyring,
            stage=stage,
            now=now,
            probe=system_probe(),
            usb_dongle=os.environ.get("OEM_LICENSE_USB_DONGLE") or None,
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the license check locks, never crashes
        reason = f"license check failed: {' '.join(str(exc).split()) or type(exc).__name__}"
        return LicenseCheck(False, reason, [reason])
    expires = status.license.expires_at if status.license is not None else None
    return LicenseCheck(status.valid, status.summary(), [f"license: {r}" for r in status.reasons], expires)
