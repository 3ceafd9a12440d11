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

from audit.trust.fsutil import MAX_JSON_FILE, read_regular_file
from audit.trust.keyring import KeyRing


@dataclass(frozen=True)
class LicenseCheck:
    valid: bool
    summary: str
    reasons: list[str] = field(default_factory=list)


def check_license(
    *, data_dir: Path, keyring: KeyRing, stage: str, now: datetime | None = None
) -> LicenseCheck:
    now = now or datetime.now(UTC)
    path = Path(data_dir) / "licenses" / "license.json"
    if not path.exists():
        return LicenseCheck(False, "no license installed", [f"no license installed ({path} is missing)"])
    try:
        from licensing.core.cli import allow_development_keys, system_probe
        from licensing.core.crl import load_crl
        from licensing.core.fingerprint import build_fingerprint
        from licensing.core.high_water import load_mark
        from licensing.core.registry import crl_path
        from licensing.core.verify import verify_license

        allow_dev = allow_development_keys()
        record = build_fingerprint(
            system_probe(),
            keyring=keyring,
            now=now,
            usb_dongle=os.environ.get("OEM_LICENSE_USB_DONGLE") or None,
        )
        crl = load_crl(crl_path(Path(data_dir)), allow_development_keys=allow_dev)
        status = verify_license(
            read_regular_file(path, max_bytes=MAX_JSON_FILE, what="license"),
            fingerprint_record=record,
            now=now,
            stage=stage,
            revoked_serials=crl.serials if crl else (),
            high_water=load_mark(keyring),
            allow_development_keys=allow_dev,
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the license check locks, never crashes
        reason = f"license check failed: {' '.join(str(exc).split()) or type(exc).__name__}"
        return LicenseCheck(False, reason, [reason])
    return LicenseCheck(status.valid, status.summary(), [f"license: {r}" for r in status.reasons])
