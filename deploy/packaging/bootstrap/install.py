"""`bootstrap install`: verify, check the device and the version, then install atomically.

Every check that can refuse runs before the prefix is touched: the bundle verifies (`verify.verify_bundle`),
it is built for this platform, it is not older than (nor a different build of) the installed version, and a
license valid for this device is present. Without one, a license request is written under OEM_DATA_DIR and
the install stops with the next step. Then: copy into `PREFIX/.staging-*`, verify the staged copy (what was
checked is what gets installed), rename it to `PREFIX/releases/<version>`, switch `PREFIX/current` with one
rename, and record the installed fingerprint (HMAC-signed) in `OEM_DATA_DIR/bundle/installed.json`.
A failure after staging began removes the staging directory and leaves the prefix as it was.
"""

from __future__ import annotations

import contextlib
import os
import platform as host_platform
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.canonical import (
    DOMAIN_MANIFEST,
    StrictJSONError,
    canonical_bytes,
    signing_input,
    strict_loads,
)
from audit.trust.fsutil import atomic_write_bytes, exclusive_lock, fsync_dir
from audit.trust.keyring import KeyRing, KeyRingError, format_time, utc_now
from audit.trust.signatures import SignatureError
from deploy.packaging.bootstrap.manifest import (
    GPG_SIGNATURE_NAME,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    check_version,
)
from deploy.packaging.bootstrap.trusted_keys import TRUSTED_RELEASE_KEYS
from deploy.packaging.bootstrap.verify import BundleRefused, TrustedKeys, VerifiedBundle, verify_bundle

INSTALLED_FORMAT = "oem-installed-bundle/1"
LICENSE_REQUEST_NAME = "license_request.json"


class LicenseNeeded(BundleRefused):
    """No valid license for this device: a request was written; the message names the next step."""


@dataclass(frozen=True)
class InstallResult:
    release_dir: Path
    fingerprint: str
    version: str
    record_path: Path
    already_installed: bool = False
    venv_dir: Path | None = None


def host_platform_name() -> str | None:
    machine = host_platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64"):
        return "linux-x86_64"
    if sys.platform == "win32" and machine in ("x86_64", "amd64"):
        return "windows-x86_64"
    if sys.platform == "darwin" and machine in ("arm64", "aarch64"):
        return "macos-arm64"
    return None


def installed_record_path(data_dir: Path) -> Path:
    return data_dir / "bundle" / "installed.json"


def load_installed(data_dir: Path, keyring: KeyRing) -> dict[str, Any] | None:
    """The signed record of the installed bundle, or None. A tampered record refuses (fail closed)."""
    path = installed_record_path(data_dir)
    try:
        doc = strict_loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, StrictJSONError) as exc:
        raise BundleRefused(f"installed bundle record {path} is unreadable: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != INSTALLED_FORMAT or "signature" not in doc:
        raise BundleRefused(f"installed bundle record {path} has an unexpected structure")
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        keyring.verify(doc["signature"], signing_input(DOMAIN_MANIFEST, body), purpose="audit")
    except SignatureError as exc:
        raise BundleRefused(f"installed bundle record {path} failed its signature check: {exc}") from None
    return body


def check_upgrade(verified: VerifiedBundle, installed: dict[str, Any] | None) -> bool:
    """True when this exact bundle is already installed; refuses downgrades and same-version rebuilds."""
    if installed is None:
        return False
    new, old = check_version(verified.version), check_version(installed["bundle_version"])
    if new < old:
        raise BundleRefused(
            f"downgrade refused: bundle {verified.version} is older than the installed "
            f"{installed['bundle_version']}"
        )
    if new == old:
        if installed["fingerprint"] == verified.fingerprint:
            return True
        raise BundleRefused(
            f"bundle {verified.version} is already installed with another fingerprint "
            f"({installed['fingerprint'][:23]}...): a new build needs a new version"
        )
    return False


def check_device_license(data_dir: Path, keyring: KeyRing) -> str:
    """A license for this device that verifies now, or LicenseNeeded after writing a license request.
    The same check the daemon runs (`check_installed_license`: fingerprint, CRL, high-water mark and the
    installation's pin); the request names this installation's trust root so the license is pinned to it."""
    from licensing.core.cli import allow_development_keys, system_probe
    from licensing.core.device import check_installed_license
    from licensing.core.fingerprint import build_fingerprint
    from licensing.core.pin import PinError, installation_pin
    from licensing.core.request import build_request

    now = utc_now()
    try:  # a malformed development-key switch or a test-only probe in production: one line, no write
        allow_dev, probe = allow_development_keys(), system_probe()
    except ValueError as exc:
        raise BundleRefused(str(exc)) from None
    usb_dongle = os.environ.get("OEM_LICENSE_USB_DONGLE") or None
    status = check_installed_license(
        data_dir,
        keyring,
        stage=None,
        now=now,
        probe=probe,
        usb_dongle=usb_dongle,
        allow_development_keys=allow_dev,
    )
    if status.valid:
        return status.summary()
    try:
        pin = installation_pin(data_dir)
    except PinError as exc:
        raise BundleRefused(str(exc)) from None
    record = build_fingerprint(probe, keyring=keyring, now=now, usb_dongle=usb_dongle)
    request = build_request(record, hostname=socket.gethostname(), now=now, trust_root=pin)
    request_path = data_dir / "licenses" / LICENSE_REQUEST_NAME
    atomic_write_bytes(request_path, canonical_bytes(request) + b"\n")
    raise LicenseNeeded(
        f"no valid license for this device ({status.summary()}); wrote {request_path}: send it to the "
        f"vendor, run `python -m licensing.core activate_license LICENSE.json` and run this install again"
    )


def _stage(verified: VerifiedBundle, staging: Path) -> None:
    names = [entry["path"] for entry in verified.manifest["files"]]
    names += [n for n in (MANIFEST_NAME, SIGNATURE_NAME, GPG_SIGNATURE_NAME) if (verified.root / n).is_file()]
    for rel in names:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(verified.root / rel, target)
        os.chmod(target, 0o755 if rel.endswith((".sh", "bootstrap.py")) else 0o644)


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _make_venv(bundle: Path, venv_dir: Path) -> None:
    """A virtual environment with exactly the bundle's pinned wheels, from its wheelhouse: no index."""
    steps = [
        [sys.executable, "-m", "venv", str(venv_dir)],
        [str(venv_python(venv_dir)), "-m", "pip", "install", "--no-index", "--only-binary=:all:", "--quiet"]
        + ["--disable-pip-version-check", "--find-links", str(bundle / "wheelhouse")]
        + ["--requirement", str(bundle / "requirements.txt")],
    ]
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            detail = " ".join((done.stderr or done.stdout).split())[-300:]
            raise BundleRefused(f"virtual environment {venv_dir}: {' '.join(command[1:4])} failed: {detail}")


def _switch_current(prefix: Path, release_name: str) -> None:
    link = prefix / "current"
    tmp = prefix / f".current-{secrets.token_hex(6)}"
    os.symlink(Path("releases") / release_name, tmp)
    os.replace(tmp, link)  # one rename: `current` always names a complete release
    fsync_dir(prefix)


def install_bundle(
    bundle_dir: Path | str,
    prefix: Path | str,
    *,
    data_dir: Path | None = None,
    trusted_keys: TrustedKeys = TRUSTED_RELEASE_KEYS,
    allow_development_keys: bool | None = None,
    venv: bool = False,
) -> InstallResult:
    """Install a verified bundle into `prefix` (see the module docstring). With `venv`, also build
    `PREFIX/venvs/<version>` from the bundle's wheelhouse before `current` switches to the new release.
    One install at a time per installation: the lock lives in the data dir, so a refusal leaves the prefix
    as it was."""
    data_dir = Path(data_dir) if data_dir is not None else paths.data_dir()
    with exclusive_lock(data_dir / "bundle" / ".install.lock"):
        return _install(
            Path(bundle_dir),
            Path(prefix).absolute(),
            data_dir,
            trusted_keys=trusted_keys,
            allow_development_keys=allow_development_keys,
            venv=venv,
        )


def _install(
    bundle_dir: Path,
    prefix: Path,
    data_dir: Path,
    *,
    trusted_keys: TrustedKeys,
    allow_development_keys: bool | None,
    venv: bool,
) -> InstallResult:
    if prefix.exists() and not prefix.is_dir():
        raise BundleRefused(f"prefix {prefix} is not a directory")
    current = prefix / "current"
    if current.exists() and not current.is_symlink():
        raise BundleRefused(f"{current} is not a symbolic link to a release: move it away first")
    try:
        keyring = KeyRing.load(data_dir)
    except KeyRingError as exc:
        raise BundleRefused(f"key ring: {exc}") from None
    verified = verify_bundle(
        bundle_dir, keyring=keyring, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
    )
    here = host_platform_name()
    if verified.platform != here:
        raise BundleRefused(
            f"bundle is built for {verified.platform}, this machine is {here or 'unsupported'}"
        )
    record_path = installed_record_path(data_dir)
    release_dir = prefix / "releases" / verified.version
    if check_upgrade(verified, load_installed(data_dir, keyring)) and release_dir.is_dir():
        return InstallResult(release_dir, verified.fingerprint, verified.version, record_path, True)
    check_device_license(data_dir, keyring)
    if release_dir.exists():
        raise BundleRefused(f"{release_dir} already exists and is not the recorded installation")
    venv_dir = prefix / "venvs" / verified.version if venv else None
    if venv_dir is not None and venv_dir.exists():
        raise BundleRefused(f"{venv_dir} already exists and is not the recorded installation")

    created = [p for p in (prefix, prefix / "releases", prefix / "venvs") if not p.exists()]
    staging = prefix / f".staging-{secrets.token_hex(8)}"
    try:
        (prefix / "releases").mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=0o755)
        _stage(verified, staging)
        staged = verify_bundle(
            staging, keyring=keyring, trusted_keys=trusted_keys, allow_development_keys=allow_development_keys
        )
        if staged.fingerprint != verified.fingerprint:
            raise BundleRefused("the bundle changed while it was being installed")
        if venv_dir is not None:
            venv_dir.parent.mkdir(exist_ok=True)
            _make_venv(staging, venv_dir)
        os.rename(staging, release_dir)
        fsync_dir(release_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if venv_dir is not None:
            shutil.rmtree(venv_dir, ignore_errors=True)
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    _switch_current(prefix, verified.version)
    body = {
        "format": INSTALLED_FORMAT,
        "bundle_version": verified.version,
        "fingerprint": verified.fingerprint,
        "commit": verified.commit,
        "platform": verified.platform,
        "prefix": str(prefix),
        "release_dir": str(release_dir),
        "installed_at": format_time(utc_now()),
    }
    signature = keyring.hmac_signer("audit").sign(DOMAIN_MANIFEST, body)
    atomic_write_bytes(record_path, canonical_bytes({**body, "signature": signature}) + b"\n")
    return InstallResult(release_dir, verified.fingerprint, verified.version, record_path, venv_dir=venv_dir)
