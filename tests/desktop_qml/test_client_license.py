"""License activation from the desktop client, offline, on a fake physical machine: the request as a QR
code saved to a USB stick, import from a file, from a USB stick and from a QR image, a forged license
refused with its one-line reason and nothing installed."""

from datetime import timedelta

import pytest

from audit.trust.keyring import KeyRing, utc_now
from desktop_qml import activation
from licensing.core import qr
from licensing.core.license_file import load_vendor_signer, write_license_qr_png
from licensing.core.request import from_qr_text as request_from_qr_text
from tests.licensing.fakesys import build_machine
from tests.licensing.helpers import fingerprint, make_license, untrusted_signer
from tests.trust_setup import installed


@pytest.fixture(autouse=True)
def machine(tmp_path, monkeypatch):
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("OEM_ENV", "test")
    monkeypatch.setenv("OEM_KDF_COST", "test")
    monkeypatch.delenv("OEM_LICENSE_USB_DONGLE", raising=False)
    monkeypatch.delenv("OEM_LICENSE_SIGNING_KEY_FILE", raising=False)
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the licenses below use the development key
    installed(tmp_path / "var")  # the device's installation: licenses are pinned to its trust root
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    return tmp_path / "machine"


@pytest.fixture
def model(qapp, tmp_path):
    from desktop_qml.models.license import LicenseModel

    usb = tmp_path / "media" / "usb0"
    usb.mkdir(parents=True)
    return LicenseModel(mounts=lambda: [str(usb)])


def _license(machine, tmp_path, signer=None, **kw):
    now = utc_now()
    components = fingerprint(machine, KeyRing.load(tmp_path / "var"), now=now)["components"]
    fields = dict(
        issued_at=now - timedelta(days=1),
        not_before=now - timedelta(days=1),
        expires_at=now + timedelta(days=90),
        stages=["demo", "paper"],
    )
    fields.update(kw)
    return make_license(signer or load_vendor_signer(), components, **fields)


def _installed(tmp_path):
    return tmp_path / "var" / "licenses" / "license.json"


def test_a_license_file_is_verified_in_one_line_and_installed(model, machine, tmp_path):
    path = tmp_path / "license.json"
    path.write_bytes(_license(machine, tmp_path).to_bytes())
    assert activation.check(path).line.startswith("license 1 valid for ACME Trading")
    assert model.importFile(str(path)), model.result
    assert model.resultOk and model.result.startswith("activated license serial 1 for ACME Trading")
    assert "\n" not in model.result
    assert _installed(tmp_path).read_bytes() == path.read_bytes()
    assert model.installedOk and model.installedStatus.startswith("license 1 valid for ACME Trading")
    assert model.developmentKeys


def test_a_license_is_imported_from_a_qr_image(model, machine, tmp_path):
    png = tmp_path / "license.png"
    write_license_qr_png(_license(machine, tmp_path), png)
    assert model.importQr(str(png)), model.result
    assert model.result.startswith("activated license serial 1")
    assert _installed(tmp_path).exists()


def test_a_license_is_imported_from_a_usb_stick(model, machine, tmp_path):
    usb = tmp_path / "media" / "usb0"
    (usb / "acme-license.json").write_bytes(_license(machine, tmp_path).to_bytes())
    model.refreshMounts()
    assert model.mounts.rows == [{"path": str(usb), "licenses": 1}]
    assert model.importFromMount(str(usb)), model.result
    assert _installed(tmp_path).exists()


def test_a_forged_license_is_refused_with_its_one_line_reason_and_nothing_installed(model, machine, tmp_path):
    path = tmp_path / "forged.json"
    path.write_bytes(_license(machine, tmp_path, signer=untrusted_signer()).to_bytes())
    assert not model.importFile(str(path))
    assert not model.resultOk
    assert model.result.startswith("license 1 refused: license signature:")
    assert "\n" not in model.result
    assert not _installed(tmp_path).exists()


def test_a_license_pinned_to_another_installation_is_refused_and_nothing_installed(model, machine, tmp_path):
    from licensing.core.pin import installation_pin

    installed(tmp_path / "elsewhere")
    path = tmp_path / "other.json"
    path.write_bytes(
        _license(machine, tmp_path, trust_root=installation_pin(tmp_path / "elsewhere")).to_bytes()
    )
    assert not model.importFile(str(path))
    assert model.result.startswith("license 1 refused:") and "\n" not in model.result
    assert not _installed(tmp_path).exists()
    assert not model.installedOk
    assert model.installedStatus.startswith("no usable license: no license installed")


def test_a_development_key_license_is_refused_without_the_switch(model, machine, tmp_path, monkeypatch):
    path = tmp_path / "license.json"
    path.write_bytes(_license(machine, tmp_path).to_bytes())
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")
    assert not model.importFile(str(path))
    assert model.result.startswith("license 1 refused:") and "development key" in model.result
    assert not _installed(tmp_path).exists() and not model.developmentKeys
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")
    assert model.importFile(str(path)), model.result
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")  # the installed license, judged as the daemon does
    model.refreshInstalled()
    assert not model.installedOk and "development key" in model.installedStatus


def test_an_expired_license_and_a_garbage_file_are_refused_in_one_line(model, machine, tmp_path):
    now = utc_now()
    path = tmp_path / "old.json"
    old = _license(
        machine,
        tmp_path,
        issued_at=now - timedelta(days=60),
        not_before=now - timedelta(days=60),
        expires_at=now - timedelta(days=1),
    )
    path.write_bytes(old.to_bytes())
    assert not model.importFile(str(path))
    assert "expired" in model.result and "\n" not in model.result
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"serial": 1, "serial": 2}')
    assert not model.importFile(str(garbage))
    assert model.result.startswith("refused:")
    assert not _installed(tmp_path).exists()


def test_the_request_is_shown_as_a_qr_code_and_saved_to_a_usb_stick(model, tmp_path):
    assert model.makeRequest(), model.result
    assert model.requestDigest and model.requestQrUrl.startswith("file://")
    usb = tmp_path / "media" / "usb0"
    assert model.saveRequest(str(usb)), model.result
    saved = sorted(p.name for p in usb.iterdir())
    assert len(saved) == 2 and saved[0].endswith(".json") and saved[1].endswith(".png")
    document = request_from_qr_text(qr.read_png(usb / saved[1]))
    assert document == (usb / saved[0]).read_bytes().rstrip(b"\n")
    assert not model.saveRequest(str(tmp_path / "no-such-stick"))
    assert "is not a directory" in model.result


def test_removable_mounts_are_found_from_the_mount_table(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "proc /proc proc rw 0 0\n"
        "/dev/sdb1 /srv/stick vfat rw 0 0\n"
        "/dev/sdc1 /media/op/KEY\\040DRIVE vfat rw 0 0\n"
        "tmpfs /run/media/op tmpfs rw 0 0\n"
    )
    sys_block = tmp_path / "block"
    for dev, removable in (("sda", "0"), ("sdb", "1"), ("sdc", "0")):
        (sys_block / dev).mkdir(parents=True)
        (sys_block / dev / "removable").write_text(removable + "\n")
    assert activation.removable_mounts(mounts, sys_block) == ["/srv/stick", "/media/op/KEY DRIVE"]
