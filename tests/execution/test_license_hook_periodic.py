"""The daemon's periodic license check keeps the device state between gate ticks, never the verdict: a
changed license, CRL or high-water mark is seen on the next call, expiry is judged at every call, and a
full check (fresh fingerprint, witnesses) runs at least every FULL_CHECK_EVERY_S."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audit.trust.keyring import KeyRing, format_time
from execution.daemon import license_hook
from licensing.core import device
from licensing.core.crl import build_crl, write_crl
from licensing.core.high_water import high_water_path
from licensing.core.license_file import load_vendor_signer
from licensing.core.registry import crl_path
from tests.licensing.fakesys import build_machine
from tests.licensing.helpers import fingerprint, make_license
from tests.trust_setup import installed


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A device with a development-signed license for every stage, and a count of full checks."""
    monkeypatch.setenv("OEM_ENV", "test")
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    monkeypatch.delenv("OEM_LICENSE_USB_DONGLE", raising=False)
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    data_dir = tmp_path / "var"
    monkeypatch.setenv("OEM_DATA_DIR", str(data_dir))
    installed(data_dir)
    ring = KeyRing.load(data_dir)
    now = datetime.now(UTC)
    components = fingerprint(tmp_path / "machine", ring, now=now)["components"]

    def license_for(stages, serial=1, expires=now + timedelta(days=30)):
        return make_license(
            load_vendor_signer(),
            components,
            serial=serial,
            issued_at=now - timedelta(days=1),
            not_before=now - timedelta(days=1),
            expires_at=expires,
            stages=stages,
        )

    (data_dir / "licenses").mkdir(parents=True, exist_ok=True)
    lic = license_for(["demo", "paper", "live"])
    (data_dir / "licenses" / "license.json").write_bytes(lic.to_bytes())
    full = []
    real = device.installed_license_inputs

    def counting(*args, **kwargs):
        full.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(device, "installed_license_inputs", counting)
    license_hook.forget()
    yield data_dir, ring, now, lic, license_for, full
    license_hook.forget()


def _check(data_dir, ring, now, stage="live"):
    return license_hook.check_license(data_dir=data_dir, keyring=ring, stage=stage, now=now)


def test_repeated_checks_reuse_the_device_state_and_verify_the_license_each_time(machine):
    data_dir, ring, now, lic, _, full = machine
    for _ in range(5):
        assert _check(data_dir, ring, now).valid
    assert len(full) == 1
    late = _check(data_dir, ring, lic.expires_at + timedelta(seconds=1))
    assert not late.valid and any("expired" in r for r in late.reasons)  # judged now, from the kept state
    assert len(full) == 1


def test_a_replaced_license_is_seen_on_the_next_call(machine):
    data_dir, ring, now, _, license_for, full = machine
    assert _check(data_dir, ring, now).valid
    (data_dir / "licenses" / "license.json").write_bytes(license_for(["demo", "paper"]).to_bytes())
    result = _check(data_dir, ring, now)
    assert not result.valid and any("stage live is not licensed" in r for r in result.reasons)
    assert len(full) == 2


def test_a_new_crl_revoking_the_license_is_seen_on_the_next_call(machine):
    data_dir, ring, now, lic, _, full = machine
    assert _check(data_dir, ring, now).valid
    revoked = [{"serial": lic.serial, "reason": "fraud", "revoked_at": format_time(now)}]
    write_crl(crl_path(data_dir), build_crl(revoked, number=1, issued_at=now, signer=load_vendor_signer()))
    result = _check(data_dir, ring, now)
    assert not result.valid and any("revoked" in r or "crl" in r.lower() for r in result.reasons), result
    assert len(full) == 2


def test_the_development_key_switch_turned_off_is_honoured_at_once(machine, monkeypatch):
    data_dir, ring, now, _, _, _ = machine
    assert _check(data_dir, ring, now).valid
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")
    result = _check(data_dir, ring, now)
    assert not result.valid and any("development key" in r for r in result.reasons)


def test_a_full_check_runs_again_once_the_kept_state_is_old(machine, monkeypatch):
    data_dir, ring, now, _, _, full = machine
    monkeypatch.setattr(license_hook, "FULL_CHECK_EVERY_S", 0.0)
    for _ in range(3):
        assert _check(data_dir, ring, now).valid
    assert len(full) == 3


def test_a_refusal_is_never_kept(machine):
    data_dir, ring, now, _, _, full = machine
    assert _check(data_dir, ring, now).valid
    high_water_path(data_dir).write_bytes(b"{not json")  # a tampered clock mark: refused in one line
    assert not _check(data_dir, ring, now).valid
    assert not _check(data_dir, ring, now).valid
    assert len(full) == 3
