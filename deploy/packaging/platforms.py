"""Platform packages built from a verified bundle directory, with the real tools of this Linux build machine.

- linux-x86_64: a `.deb` by `dpkg-deb` (root-owned files, a `postinst` that runs the bootstrap's verification;
  lintian findings are fixed or overridden with a reason).
- windows-x86_64: an `.msi` by msitools' `wixl`, Authenticode-signed by `osslsigncode` when a code-signing
  certificate is given.
- macos-arm64: an ISO 9660 / HFS+ hybrid image by `xorriso`, named `.dmg` (macOS mounts it).
- every platform: the portable, reproducible `.tar.gz`.
What needs a tool or a key this machine cannot have (EV SignTool, codesign, notarization, a UDIF dmg, an
AppImage without appimagetool) is a step with `"status": "placeholder"` that says what it would run. It never
produces a file and is never reported as done.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from audit.trust.hashing import sha384_file
from deploy.packaging import archive

DEB_PACKAGE = "core-oem"
DEB_MAINTAINER = "Core OEM Release <release@core-oem.example>"
INSTALL_ROOT = "/opt/core-oem"
MSI_UPGRADE_CODE = "6f1d3c52-8a4e-4b7a-9d0e-3c1b2a7e5f90"
_NAMESPACE = uuid.UUID("0d5e2f1a-6b7c-4d8e-9f00-112233445566")  # stable MSI ids: uuid5 of the path


ARTEFACT_SUFFIXES = (".tar.gz", ".deb", ".msi", ".dmg", ".build_report.json")  # after the bundle name


class PackagingError(ValueError):
    """A platform tool failed. One line."""


@dataclass(frozen=True)
class Codesign:
    cert: Path
    key: Path


def check_codesign(cert: Path | None, key: Path | None) -> Codesign | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise PackagingError("give both --codesign-cert and --codesign-key, or neither")
    for path in (cert, key):
        if not Path(path).is_file():
            raise PackagingError(f"code-signing file {path} does not exist")
    return Codesign(Path(cert), Path(key))


def artefact(out_dir: Path, path: Path) -> dict[str, Any]:
    return {
        "path": path.relative_to(out_dir).as_posix(),
        "size": path.stat().st_size,
        "sha384": f"sha384:{sha384_file(path)}",
    }


def _step(name: str, status: str, detail: str, out_dir: Path, path: Path | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "detail": detail,
        "artefact": artefact(out_dir, path) if path else None,
    }


def placeholder(name: str, command: str, why: str) -> dict[str, Any]:
    print(f"placeholder: {name}: would run `{command}` ({why})")
    return {
        "name": name,
        "status": "placeholder",
        "detail": f"would run `{command}`: {why}",
        "artefact": None,
    }


def _run(command: list[str], what: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=900, check=False, env=env, cwd=cwd
        )
    except FileNotFoundError:
        raise PackagingError(f"{what}: {command[0]} is not installed") from None
    if done.returncode != 0:
        message = " ".join((done.stderr or done.stdout).split())[:300]
        raise PackagingError(f"{what} failed: {message}")
    return done.stdout


def _epoch_env(epoch: int) -> dict[str, str]:
    return {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "TZ": "UTC", "LC_ALL": "C.UTF-8"}


# ---- Debian ----------------------------------------------------------------------------------------------
POSTINST = """#!/bin/sh
# Verify the shipped bundle (release signature, every file's SHA-384) before anything uses it.
set -e
if [ "$1" = "configure" ]; then
    python3 {root}/bootstrap.py verify {root}
fi
exit 0
"""

# Each override says why the finding does not apply to this package.
LINTIAN_OVERRIDES = """\
# The signed bundle is verified as one tree by its bootstrap: it stays whole under /opt (FHS 3.13).
{pkg}: dir-or-file-in-opt [opt/core-oem/*]
# The runbooks and the pinned requirements are signed members of the bundle, read where it is installed.
{pkg}: package-contains-documentation-outside-usr-share-doc [opt/core-oem/*]
# The JSON schema of the license file format, not a license text.
{pkg}: extra-license-file [opt/core-oem/*/app/docs/schemas/license_v2.json]
"""


def _deb_control(version: str, installed_kib: int) -> str:
    return (
        f"Package: {DEB_PACKAGE}\nVersion: {version}\nArchitecture: amd64\nMaintainer: {DEB_MAINTAINER}\n"
        f"Installed-Size: {installed_kib}\nDepends: python3 (>= 3.11), python3-cryptography, python3-yaml\n"
        "Section: misc\nPriority: optional\nHomepage: https://core-oem.example/\n"
        "Description: Core OEM offline bundle (daemon and desktop client)\n"
        " The signed Core OEM bundle: daemon and desktop client code, a wheelhouse\n"
        " of its pinned dependencies, the signed configuration and the bootstrap\n"
        " installer. The postinst verifies the bundle before anything uses it.\n"
    )


def _deb_copyright() -> str:
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: core-oem\nSource: https://core-oem.example/\n\n"
        "Files: *\nCopyright: 2026 Core OEM vendor\nLicense: proprietary\n"
        " All rights reserved. Distributed to licensed customers only.\n"
    )


def _deb_changelog(version: str, commit: str, epoch: int) -> bytes:
    date = format_datetime(datetime.fromtimestamp(epoch, UTC))
    text = (
        f"{DEB_PACKAGE} ({version}) unstable; urgency=medium\n\n"
        f"  * Core OEM bundle {version}, commit {commit[:12]}.\n\n"
        f" -- {DEB_MAINTAINER}  {date}\n"
    )
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def _md5sums(pkg: Path) -> str:
    """dpkg's own integrity list (`dpkg --verify`); the bundle's trust rests on the SHA-384 manifest."""
    lines = []
    for path in sorted(p for p in pkg.rglob("*") if p.is_file()):
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        lines.append(f"{digest}  {path.relative_to(pkg).as_posix()}\n")
    return "".join(lines)


def build_deb(bundle_dir: Path, target: Path, *, version: str, commit: str, epoch: int) -> None:
    root = f"{INSTALL_ROOT}/{version}"
    with tempfile.TemporaryDirectory(prefix="oem-deb-") as tmp:
        pkg = Path(tmp) / "pkg"
        shutil.copytree(bundle_dir, pkg / root.lstrip("/"))
        doc = pkg / "usr/share/doc" / DEB_PACKAGE
        doc.mkdir(parents=True)
        (doc / "copyright").write_text(_deb_copyright())
        (doc / "changelog.gz").write_bytes(_deb_changelog(version, commit, epoch))
        overrides = pkg / "usr/share/lintian/overrides" / DEB_PACKAGE
        overrides.parent.mkdir(parents=True)
        overrides.write_text(LINTIAN_OVERRIDES.format(pkg=DEB_PACKAGE))
        size_kib = sum(p.stat().st_size for p in pkg.rglob("*") if p.is_file()) // 1024 + 1
        debian = pkg / "DEBIAN"
        debian.mkdir()
        (debian / "md5sums").write_text(_md5sums(pkg))
        (debian / "control").write_text(_deb_control(version, size_kib))
        (debian / "postinst").write_text(POSTINST.format(root=root))
        archive.normalise_tree(pkg, epoch)
        tmp_deb = Path(tmp) / "out.deb"
        _run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z9", "--build", str(pkg), str(tmp_deb)],
            "dpkg-deb",
            env=_epoch_env(epoch),
        )
        shutil.move(tmp_deb, target)


# ---- Windows ---------------------------------------------------------------------------------------------
def _wxs(bundle_dir: Path, version: str) -> str:
    def ident(prefix: str, rel: str) -> str:
        return prefix + uuid.uuid5(_NAMESPACE, rel).hex

    components: list[str] = []

    def directory(path: Path, rel: str, depth: int) -> str:
        pad = "  " * depth
        lines = []
        for child in sorted(path.iterdir()):
            child_rel = f"{rel}/{child.name}" if rel else child.name
            if child.is_dir():
                lines.append(
                    f"{pad}<Directory Id={quoteattr(ident('d', child_rel))} Name={quoteattr(child.name)}>"
                )
                lines.append(directory(child, child_rel, depth + 1))
                lines.append(f"{pad}</Directory>")
            else:
                cid = ident("c", child_rel)
                components.append(cid)
                guid = str(uuid.uuid5(_NAMESPACE, "component:" + child_rel)).upper()
                lines.append(
                    f'{pad}<Component Id={quoteattr(cid)} Guid={quoteattr(guid)} Win64="yes">'
                    f"<File Id={quoteattr(ident('f', child_rel))} Name={quoteattr(child.name)} "
                    f'Source={quoteattr(child_rel)} KeyPath="yes"/></Component>'
                )
        return "\n".join(line for line in lines if line)

    tree = directory(bundle_dir, "", 5)
    product = str(uuid.uuid5(_NAMESPACE, f"product:{version}")).upper()
    refs = "\n".join(f"      <ComponentRef Id={quoteattr(c)}/>" for c in components)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{product}" Name="Core OEM" Language="1033" Version="{version}" Manufacturer="Core OEM"
           UpgradeCode="{MSI_UPGRADE_CODE.upper()}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
             Description="Core OEM {version} signed offline bundle"/>
    <Media Id="1" Cabinet="core.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Core OEM">
          <Directory Id="VERSIONDIR" Name="{version}">
{tree}
          </Directory>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1">
{refs}
    </Feature>
  </Product>
</Wix>
"""


def build_msi(bundle_dir: Path, target: Path, *, version: str, epoch: int) -> None:
    with tempfile.TemporaryDirectory(prefix="oem-msi-") as tmp:
        wxs = Path(tmp) / "core-oem.wxs"
        wxs.write_text(_wxs(bundle_dir, version))
        out = Path(tmp) / "out.msi"
        _run(["wixl", "-a", "x64", "-o", str(out), str(wxs)], "wixl", env=_epoch_env(epoch), cwd=bundle_dir)
        shutil.move(out, target)


def authenticode_sign(msi: Path, codesign: Codesign) -> str:
    """Sign in place with osslsigncode, then check the signature against the certificate."""
    signed = msi.with_name(f".{msi.name}.signed")
    try:
        _run(
            [
                "osslsigncode", "sign", "-certs", str(codesign.cert), "-key", str(codesign.key),
                "-h", "sha256", "-n", "Core OEM", "-i", "https://core-oem.example/",
                "-in", str(msi), "-out", str(signed),
            ],
            "osslsigncode sign",
        )  # fmt: skip
        _run(
            ["osslsigncode", "verify", "-CAfile", str(codesign.cert), "-in", str(signed)],
            "osslsigncode verify",
        )
        os.replace(signed, msi)
    finally:
        signed.unlink(missing_ok=True)
    return f"Authenticode (sha256) by {codesign.cert.name}, verified by osslsigncode"


# ---- macOS -----------------------------------------------------------------------------------------------
def build_dmg(bundle_dir: Path, target: Path, *, version: str, epoch: int) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    _run(
        [
            "xorriso", "-as", "mkisofs", "-quiet", "-V", f"CORE_OEM_{version.replace('.', '_')}",
            "-R", "-J", "-joliet-long", "-hfsplus", "-o", str(tmp), str(bundle_dir),
        ],
        "xorriso",
        env=_epoch_env(epoch),
    )  # fmt: skip
    os.replace(tmp, target)


# ---- all -------------------------------------------------------------------------------------------------
def build_packages(
    bundle_dir: Path,
    out_dir: Path,
    *,
    platform: str,
    version: str,
    commit: str,
    epoch: int,
    codesign: Codesign | None,
    packages: bool = True,
) -> list[dict[str, Any]]:
    name = bundle_dir.name
    tar = out_dir / f"{name}.tar.gz"
    archive.write_tar_gz(bundle_dir, tar, top=name, epoch=epoch)
    steps = [_step("tar.gz", "done", "portable archive, reproducible", out_dir, tar)]
    if not packages:
        return steps
    if platform == "linux-x86_64":
        deb = out_dir / f"{name}.deb"
        build_deb(bundle_dir, deb, version=version, commit=commit, epoch=epoch)
        steps.append(
            _step("deb", "done", f"dpkg-deb, root-owned, postinst verifies {INSTALL_ROOT}", out_dir, deb)
        )
        steps.append(
            placeholder(
                "appimage",
                f"appimagetool {name}.AppDir {name}.AppImage",
                "appimagetool is not packaged for this build machine",
            )
        )
    elif platform == "windows-x86_64":
        msi = out_dir / f"{name}.msi"
        build_msi(bundle_dir, msi, version=version, epoch=epoch)
        if codesign is not None:
            steps.append(_step("msi", "done", f"wixl; {authenticode_sign(msi, codesign)}", out_dir, msi))
        else:
            steps.append(_step("msi", "done", "wixl; not Authenticode-signed", out_dir, msi))
            steps.append(
                placeholder(
                    "authenticode",
                    f"osslsigncode sign -certs CERT -key KEY -in {name}.msi",
                    "no --codesign-cert/--codesign-key given",
                )
            )
        steps.append(
            placeholder(
                "ev_signtool",
                f"signtool sign /fd sha256 /tr RFC3161_URL /td sha256 /a {name}.msi",
                "the EV certificate lives on a hardware token used by SignTool on Windows",
            )
        )
    elif platform == "macos-arm64":
        dmg = out_dir / f"{name}.dmg"
        build_dmg(bundle_dir, dmg, version=version, epoch=epoch)
        steps.append(
            _step("dmg", "done", "xorriso ISO 9660 + HFS+ hybrid image (mountable on macOS)", out_dir, dmg)
        )
        steps.append(
            placeholder(
                "udif_dmg",
                f"hdiutil convert {name}.dmg -format UDZO -o {name}-udif.dmg",
                "hdiutil runs on macOS only",
            )
        )
        steps.append(
            placeholder(
                "codesign",
                "codesign --deep --options runtime --timestamp -s 'Developer ID Application: VENDOR' "
                "'Core OEM.app'",
                "needs Apple's codesign and a Developer ID certificate on macOS",
            )
        )
        steps.append(
            placeholder(
                "notarization",
                f"xcrun notarytool submit {name}.dmg --wait && xcrun stapler staple {name}.dmg",
                "Apple notarization is an online service reached from macOS",
            )
        )
    return steps
