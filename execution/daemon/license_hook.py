"""The one place the daemon calls the licensing verifier (licensing.core.verify.verify_license).

Reads ``<data_dir>/licenses/license.json``, collects a fresh fingerprint of this machine, the vendor CRL and
the signed high-water mark, and returns (valid, summary, reasons). Any error is a reason, never an exception:
the gate fails closed.

The daemon asks on every gate tick, so the device state (fingerprint, CRL and high-water mark with their
witnesses, installation pin) is kept between calls while the bytes of the license, the CRL, the high-water
mark and the installation record are unchanged, for at most FULL_CHECK_EVERY_S; the license itself is
verified against it on every call (time-dependent: expiry, not-before, clock rollback). A changed file, a
different key ring, switch, fingerprint root or USB dongle, or the age limit means a full check.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from audit.trust.keyring import KeyRing

FULL_CHECK_EVERY_S = 60.0  # a fresh fingerprint and witness check at least this often


@dataclass(frozen=True)
class LicenseCheck:
    valid: bool
    summary: str
    reasons: list[str] = field(default_factory=list)
    expires_at: datetime | None = None


@dataclass(frozen=True)
class _Kept:
    files: tuple[object, ...]
    checked_at: float
    data: bytes
    state: object  # licensing.core.device.DeviceState


_kept: dict[tuple, _Kept] = {}
_kept_lock = threading.Lock()


def check_license(
    *, data_dir: Path, keyring: KeyRing, stage: str, now: datetime | None = None
) -> LicenseCheck:
    now = now or datetime.now(UTC)
    path = Path(data_dir) / "licenses" / "license.json"
    if not path.exists():
        return LicenseCheck(False, "no license installed", [f"no license installed ({path} is missing)"])
    try:
        status = _status(Path(data_dir), keyring, stage, now)
    except Exception as exc:  # noqa: BLE001 - any failure of the license check locks, never crashes
        reason = f"license check failed: {' '.join(str(exc).split()) or type(exc).__name__}"
        return LicenseCheck(False, reason, [reason])
    expires = status.license.expires_at if status.license is not None else None
    return LicenseCheck(status.valid, status.summary(), [f"license: {r}" for r in status.reasons], expires)


def _status(data_dir: Path, keyring: KeyRing, stage: str, now: datetime):
    from licensing.core.cli import system_probe
    from licensing.core.device import installed_license_inputs, verify_installed
    from licensing.core.devkeys import resolve

    # Development license keys only with OEM_ALLOW_DEVELOPMENT_LICENSES=true (`make run`); the installed
    # license must pin this installation's trust root; CRL and high-water mark are witnessed.
    dongle = os.environ.get("OEM_LICENSE_USB_DONGLE") or None
    probe = system_probe()
    key = (str(data_dir), resolve(None), str(probe.root), dongle)
    files = _files(data_dir, keyring)
    with _kept_lock:
        kept = _kept.get(key)
    if kept is not None and kept.files == files and time.monotonic() - kept.checked_at < FULL_CHECK_EVERY_S:
        return verify_installed(kept.data, kept.state, stage=stage, now=now)
    checked_at = time.monotonic()
    inputs = installed_license_inputs(data_dir, keyring, now=now, probe=probe, usb_dongle=dongle)
    if not isinstance(inputs, tuple):
        return inputs  # a refusal is never kept: the next call checks everything again
    data, state = inputs
    status = verify_installed(data, state, stage=stage, now=now)
    if files[0] == data:  # the license read for the full check is the one the files were read with
        with _kept_lock:
            if len(_kept) > 16:
                _kept.clear()
            _kept[key] = _Kept(files, checked_at, data, state)
    return status


def _files(data_dir: Path, keyring: KeyRing) -> tuple[object, ...]:
    """The exact bytes the device state was built from (compared, not their timestamps, which are coarse),
    and the key ring's (its fingerprint and clock keys sign what the state holds)."""
    from audit.trust import paths
    from audit.trust.fsutil import MAX_JSON_FILE, read_regular_file
    from licensing.core.high_water import high_water_path
    from licensing.core.license_file import MAX_LICENSE_BYTES
    from licensing.core.registry import crl_path

    out = []
    for path, cap in (
        (data_dir / "licenses" / "license.json", MAX_LICENSE_BYTES),
        (crl_path(data_dir), MAX_JSON_FILE),
        (high_water_path(data_dir), MAX_JSON_FILE),
        (paths.installation_path(data_dir), MAX_JSON_FILE),
        (getattr(keyring, "path", None), MAX_JSON_FILE),
    ):
        if path is None:
            out.append(id(keyring))
            continue
        try:
            out.append(read_regular_file(path, max_bytes=cap, what="license input"))
        except OSError:
            out.append(None)
    return tuple(out)


def forget() -> None:
    """Drop the kept device state (tests that change the machine underneath a running check)."""
    with _kept_lock:
        _kept.clear()
