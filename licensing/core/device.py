"""What a device checks a license against: a fresh fingerprint, the CRL, the high-water mark, the pin.

One place for the activation command and the daemon (`check_installed_license`), so both read the same
files the same way (bounded regular-file reads, witnessed monotonic state, the installation's pin).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from audit.trust.canonical import canonical_bytes
from audit.trust.fsutil import read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing
from audit.trust.witness import Mark, Witness, witness_for
from licensing.core.crl import Crl, load_crl
from licensing.core.fingerprint import SystemProbe, build_fingerprint
from licensing.core.high_water import high_water_path, load_mark
from licensing.core.license_file import MAX_LICENSE_BYTES
from licensing.core.pin import TrustRootPin, installation_pin
from licensing.core.registry import crl_path
from licensing.core.verify import LicenseStatus, verify_license


@dataclass(frozen=True)
class DeviceState:
    record: dict[str, Any]
    crl: Crl | None
    mark: datetime | None
    pin: TrustRootPin


def licenses_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "licenses"


def installed_license_path(data_dir: Path) -> Path:
    return licenses_dir(data_dir) / "license.json"


CRL_WITNESS_KEY = "licenses/crl"
_NO_CRL = Mark(0, "crl:none")


def crl_mark(crl: Crl | None) -> Mark:
    """The CRL's number, and a digest of the serials it lists (a re-signed CRL of the same number and the
    same serials is the same position)."""
    if crl is None:
        return _NO_CRL
    return Mark(crl.number, "crl:" + sha384_bytes(canonical_bytes(sorted(crl.serials))))


def observe_crl(
    data_dir: Path,
    *,
    allow_development_keys: bool | None = None,
    witness: Witness | None = None,
    first_use: bool = True,
) -> Crl | None:
    """The verified CRL of `data_dir`, refused when its number is below the highest ever seen or the file is
    gone after one was seen; a newer one raises the witness.

    `first_use`: the caller may start the witness when it holds no mark (activation, and the vendor side
    right after writing a CRL). The daemon passes False: on an activated device a CRL without any mark means
    the witness was lost, which is an error, never a fresh start."""
    path = crl_path(Path(data_dir))
    crl = load_crl(path, allow_development_keys=allow_development_keys)
    witness = witness if witness is not None else witness_for(Path(data_dir))
    if first_use and all(mark is None for mark in witness.marks(CRL_WITNESS_KEY).values()):
        witness.begin(CRL_WITNESS_KEY, _NO_CRL, label=str(path))
    if crl is None:
        witness.check(CRL_WITNESS_KEY, _NO_CRL, label=str(path))
        return None
    witness.advance(CRL_WITNESS_KEY, crl_mark(crl), label=str(path))
    return crl


def device_state(
    data_dir: Path,
    keyring: KeyRing,
    *,
    now: datetime,
    probe: SystemProbe,
    usb_dongle: str | None = None,
    allow_development_keys: bool | None = None,
    first_use: bool = False,
) -> DeviceState:
    """Everything but the license; any unreadable, tampered or rolled-back file raises a one-line error."""
    record = build_fingerprint(probe, keyring=keyring, now=now, usb_dongle=usb_dongle)
    crl = observe_crl(Path(data_dir), allow_development_keys=allow_development_keys, first_use=first_use)
    mark = load_mark(keyring, high_water_path(Path(data_dir)))
    return DeviceState(record, crl, mark, installation_pin(Path(data_dir)))


def check_installed_license(
    data_dir: Path,
    keyring: KeyRing,
    *,
    stage: str | None,
    now: datetime,
    probe: SystemProbe,
    usb_dongle: str | None = None,
    allow_development_keys: bool | None = None,
) -> LicenseStatus:
    """The installed license checked for `stage` on this machine; bad files fail closed, never raise."""
    inputs = installed_license_inputs(
        data_dir,
        keyring,
        now=now,
        probe=probe,
        usb_dongle=usb_dongle,
        allow_development_keys=allow_development_keys,
    )
    if isinstance(inputs, LicenseStatus):
        return inputs
    data, state = inputs
    return verify_installed(data, state, stage=stage, now=now, allow_development_keys=allow_development_keys)


def installed_license_inputs(
    data_dir: Path,
    keyring: KeyRing,
    *,
    now: datetime,
    probe: SystemProbe,
    usb_dongle: str | None = None,
    allow_development_keys: bool | None = None,
) -> tuple[bytes, DeviceState] | LicenseStatus:
    """(the installed license's bytes, the device state) to verify it against, or the refusal."""
    path = installed_license_path(data_dir)
    try:
        data = read_regular_file(path, max_bytes=MAX_LICENSE_BYTES, what="installed license")
    except FileNotFoundError:
        return LicenseStatus(False, [f"no license installed ({path} is missing)"])
    except OSError as exc:
        return LicenseStatus(False, [str(exc)])
    try:
        state = device_state(
            data_dir,
            keyring,
            now=now,
            probe=probe,
            usb_dongle=usb_dongle,
            allow_development_keys=allow_development_keys,
        )
    except (OSError, ValueError) as exc:
        return LicenseStatus(False, [" ".join(str(exc).split())])
    return data, state


def verify_installed(
    data: bytes,
    state: DeviceState,
    *,
    stage: str | None,
    now: datetime,
    allow_development_keys: bool | None = None,
) -> LicenseStatus:
    """verify_license of the installed license's bytes against the device state read for it."""
    return verify_license(
        data,
        fingerprint_record=state.record,
        now=now,
        stage=stage,
        revoked_serials=state.crl.serials if state.crl else (),
        high_water=state.mark,
        allow_development_keys=allow_development_keys,
        trust_root=state.pin,
    )
