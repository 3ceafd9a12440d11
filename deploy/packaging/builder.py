"""Build the signed Core OEM bundle for one platform.

Everything that can refuse (platform, version, commit, SOURCE_DATE_EPOCH, missing wheels, release keys, the
config key) is checked before the first write; `--dry-run` stops after computing the manifest and writes
nothing. A real build assembles the bundle in a staging directory inside `--out`, verifies it with the
bootstrap's own verifier, renames it into place, then builds the platform packages from it.
Inputs that decide the bytes: the source tree, the wheelhouse, the key ring's `config` key, the release keys
and SOURCE_DATE_EPOCH. Same inputs, same bytes (see archive.py).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit.trust import paths
from audit.trust.canonical import DOMAIN_MANIFEST, canonical_bytes
from audit.trust.core_config import ConfigError, sign_file
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.pem_keys import PemKeyError, load_ed25519_pem
from audit.trust.signatures import Ed25519Signer
from deploy.packaging import archive, platforms
from deploy.packaging.bootstrap.manifest import (
    GPG_SIGNATURE_NAME,
    MANIFEST_NAME,
    PLATFORMS,
    SIGNATURE_NAME,
    ManifestError,
    build_manifest,
    build_time_from_epoch,
    bytes_entry,
    check_version,
    file_entry,
    fingerprint,
    manifest_bytes,
)
from deploy.packaging.bootstrap.trusted_keys import TRUSTED_RELEASE_KEYS
from deploy.packaging.bootstrap.verify import BundleRefused, installation_keyring, verify_bundle
from deploy.packaging.contents import LAUNCHER, ContentsError, app_files, doc_files, release_keys_json
from deploy.packaging.gpgsign import GpgError, ThrowawayGpg
from deploy.packaging.wheelhouse import WheelhouseError, read_requirements, select_wheels

REPO_ROOT = paths.REPO_ROOT
PACKAGING_DIR = Path(__file__).resolve().parent
DEV_RELEASE_KEY = PACKAGING_DIR / "dev_release_key" / "release_dev_ed25519.pem"
DEV_GPG_KEY = PACKAGING_DIR / "dev_release_key" / "release_dev_gpg.asc"
DEFAULT_REQUIREMENTS = PACKAGING_DIR / "requirements-core.txt"
ENV_TEMPLATE = PACKAGING_DIR / "templates" / "env.template"
RELEASE_KEY_ENV = "OEM_RELEASE_SIGNING_KEY_FILE"
RELEASE_KEY_PASSWORD_ENV = "OEM_RELEASE_SIGNING_KEY_PASSWORD_FILE"  # noqa: S105 - a variable name
GPG_KEY_ENV = "OEM_RELEASE_GPG_KEY_FILE"
WHEELHOUSE_ENV = "OEM_WHEELHOUSE"
FINGERPRINT_NAME = "fingerprint.txt"

_COMMIT = re.compile(r"^[0-9a-f]{40}\Z")


class BuildError(ValueError):
    """The build is refused. One line; nothing was written."""


@dataclass
class BuildOptions:
    platform: str
    out_dir: Path
    dry_run: bool = False
    bundle_version: str | None = None
    commit: str | None = None
    source_date_epoch: int | None = None
    wheelhouse: Path | None = None
    requirements: Path | None = None
    release_key: Path | None = None
    gpg_key: Path | None = None
    codesign_cert: Path | None = None
    codesign_key: Path | None = None
    packages: bool = True
    source_root: Path = REPO_ROOT
    data_dir: Path | None = None


@dataclass
class BuildResult:
    name: str
    fingerprint: str
    manifest: dict[str, Any]
    bundle_dir: Path | None = None
    report: dict[str, Any] = field(default_factory=dict)
    report_path: Path | None = None


def bundle_name(version: str, platform: str) -> str:
    return f"core-oem-{version}-{platform}"


def _git(source_root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(source_root), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise BuildError("git is not installed: give --commit and SOURCE_DATE_EPOCH") from None
    if done.returncode != 0:
        raise BuildError(f"{source_root} is not a git checkout: give --commit and SOURCE_DATE_EPOCH")
    return done.stdout.strip()


def _version(options: BuildOptions) -> str:
    version = options.bundle_version
    if version is None:
        try:
            version = tomllib.loads((options.source_root / "pyproject.toml").read_text())["project"][
                "version"
            ]
        except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
            raise BuildError(f"cannot read the project version from pyproject.toml: {exc}") from None
    try:
        check_version(version)
    except ManifestError as exc:
        raise BuildError(str(exc)) from None
    return version


def _epoch(options: BuildOptions) -> int:
    raw = options.source_date_epoch
    if raw is None:
        text = os.environ.get("SOURCE_DATE_EPOCH") or _git(options.source_root, "log", "-1", "--format=%ct")
        if not text.isdigit():
            raise BuildError(f"SOURCE_DATE_EPOCH {text[:20]!r} is not a non-negative integer")
        raw = int(text)
    if not 0 <= raw < 2**33:
        raise BuildError("SOURCE_DATE_EPOCH is out of range")
    return raw


def load_release_signer(path: Path) -> Ed25519Signer:
    """The vendor release key (PKCS8 PEM, encrypted under the password in the file named by
    $OEM_RELEASE_SIGNING_KEY_PASSWORD_FILE when set). Its public half must be compiled into the bootstrap,
    or nobody could verify what it signs."""
    try:
        key = load_ed25519_pem(path, password_env=RELEASE_KEY_PASSWORD_ENV, what="release key")
    except PemKeyError as exc:
        raise BuildError(str(exc)) from None
    public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    for kid, (_, key_b64, _) in TRUSTED_RELEASE_KEYS.items():
        if key_b64 == public:
            return Ed25519Signer(kid, key)
    raise BuildError(f"release key {path} is not in deploy/packaging/bootstrap/trusted_keys.py")


def _signed_copies(keyring: KeyRing, sources: dict[str, Path]) -> dict[str, bytes]:
    """`<name>` and `<name>.sig` bytes for each file, signed with the ring's `config` HMAC key."""
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="oem-sign-") as tmp:
        for rel, source in sources.items():
            copy = Path(tmp) / Path(rel).name
            shutil.copyfile(source, copy)
            try:
                sig = sign_file(copy, keyring)
            except ConfigError as exc:
                raise BuildError(str(exc)) from None
            out[rel] = copy.read_bytes()
            out[f"{rel}.sig"] = sig.read_bytes()
    return out


def _keyring(options: BuildOptions) -> KeyRing:
    data_dir = options.data_dir or paths.data_dir()
    try:
        if options.dry_run:
            ring = installation_keyring(data_dir)
            if ring is None or ring.active_key("config") is None:
                raise BuildError(f"dry run needs the config key in the key ring of {data_dir} (build once)")
            return ring
        return KeyRing.load(data_dir)
    except (KeyRingError, BundleRefused) as exc:
        raise BuildError(f"key ring: {exc}") from None


def _plan(
    options: BuildOptions, *, epoch: int, gpg_public: bytes
) -> tuple[dict[str, Path | bytes], list[str]]:
    requirements = read_requirements(options.requirements or DEFAULT_REQUIREMENTS, options.platform)
    wheelhouse = options.wheelhouse or Path(
        os.environ.get(WHEELHOUSE_ENV) or options.source_root / "dist" / "wheelhouse" / options.platform
    )
    wheels = select_wheels(requirements, wheelhouse, options.platform)
    plan: dict[str, Path | bytes] = {}
    plan.update(app_files(options.source_root))
    plan.update(doc_files(options.source_root))
    plan.update({f"wheelhouse/{w.name}": w for w in wheels})
    plan["requirements.txt"] = "".join(f"{r}\n" for r in requirements).encode()
    plan["bootstrap.py"] = LAUNCHER
    plan["keys/release_keys.json"] = release_keys_json()
    plan["keys/release_gpg.asc"] = gpg_public
    signed = {
        "config/core.yaml": options.source_root / "config" / "core.yaml",
        "config/env.template": ENV_TEMPLATE,
    }
    plan.update(_signed_copies(_keyring(options), signed))
    return plan, [str(r) for r in requirements]


def _entries(plan: dict[str, Path | bytes]) -> list[dict[str, Any]]:
    return [
        bytes_entry(rel, src) if isinstance(src, bytes) else file_entry(rel, src)
        for rel, src in sorted(plan.items())
    ]


def _write_bundle(staging: Path, plan: dict[str, Path | bytes]) -> None:
    for rel, source in sorted(plan.items()):
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)


def _remove_outputs(out_dir: Path, name: str) -> None:
    shutil.rmtree(out_dir / name, ignore_errors=True)
    for suffix in platforms.ARTEFACT_SUFFIXES:
        (out_dir / f"{name}{suffix}").unlink(missing_ok=True)


def build_bundle(options: BuildOptions) -> BuildResult:
    if options.platform not in PLATFORMS:
        raise BuildError(f"unknown platform {options.platform!r} (expected one of {', '.join(PLATFORMS)})")
    version = _version(options)
    commit = options.commit or _git(options.source_root, "rev-parse", "HEAD")
    if not _COMMIT.match(commit):
        raise BuildError(f"commit {commit[:48]!r} is not 40 lowercase hex digits")
    epoch = _epoch(options)
    out_dir = Path(options.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildError(f"--out {out_dir} is not a directory")
    signer = load_release_signer(
        options.release_key or Path(os.environ.get(RELEASE_KEY_ENV) or DEV_RELEASE_KEY)
    )
    gpg_key = options.gpg_key or Path(os.environ.get(GPG_KEY_ENV) or DEV_GPG_KEY)
    codesign = platforms.check_codesign(options.codesign_cert, options.codesign_key)
    name = bundle_name(version, options.platform)
    try:
        with ThrowawayGpg(gpg_key, epoch) as gpg:
            plan, requirements = _plan(options, epoch=epoch, gpg_public=gpg.public_key())
            manifest = build_manifest(
                bundle_version=version,
                commit=commit,
                platform=options.platform,
                build_time=build_time_from_epoch(epoch),
                files=_entries(plan),
            )
            data = manifest_bytes(manifest)
            result = BuildResult(name, fingerprint(data), manifest)
            if options.dry_run:
                return result
            out_dir.mkdir(parents=True, exist_ok=True)
            staging = out_dir / f".{name}.staging-{secrets.token_hex(6)}"
            try:
                staging.mkdir()
                _write_bundle(staging, plan)
                (staging / MANIFEST_NAME).write_bytes(data)
                (staging / SIGNATURE_NAME).write_text(signer.sign(DOMAIN_MANIFEST, manifest) + "\n")
                (staging / GPG_SIGNATURE_NAME).write_bytes(gpg.detach_sign(data))
                archive.normalise_tree(staging, epoch)
                verify_bundle(staging)
                final = out_dir / name
                if final.exists():
                    shutil.rmtree(final)
                os.rename(staging, final)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (WheelhouseError, GpgError, ManifestError, BundleRefused, ContentsError) as exc:
        raise BuildError(str(exc)) from None
    result.bundle_dir = final
    try:
        steps = platforms.build_packages(
            final,
            out_dir,
            platform=options.platform,
            version=version,
            commit=commit,
            epoch=epoch,
            codesign=codesign,
            packages=options.packages,
        )
    except BaseException:
        _remove_outputs(out_dir, name)  # a bundle without its packages is not a build
        raise
    report = {
        "schema": "oem/build-report/v1",
        "bundle": name,
        "bundle_version": version,
        "commit": commit,
        "platform": options.platform,
        "fingerprint": result.fingerprint,
        "source_date_epoch": epoch,
        "requirements": requirements,
        "steps": [
            {
                "name": "bundle",
                "status": "done",
                "detail": f"{len(manifest['files'])} files; manifest.sig by {signer.kid}; manifest.asc (gpg)",
                "artefact": platforms.artefact(out_dir, final / MANIFEST_NAME),
            },
            *steps,
        ],
    }
    report_path = out_dir / f"{name}.build_report.json"
    tmp = report_path.with_name(f".{report_path.name}.tmp")
    tmp.write_bytes(canonical_bytes(report) + b"\n")
    os.replace(tmp, report_path)
    fingerprint_path = out_dir / FINGERPRINT_NAME
    fingerprint_path.with_name(f".{FINGERPRINT_NAME}.tmp").write_text(result.fingerprint + "\n")
    os.replace(fingerprint_path.with_name(f".{FINGERPRINT_NAME}.tmp"), fingerprint_path)
    result.report, result.report_path = report, report_path
    return result


def find_bundle_dir(out_dir: Path) -> Path:
    """The one bundle directory (`core-oem-*` holding a manifest.json) in a build's output directory."""
    found = sorted(p for p in Path(out_dir).glob("core-oem-*") if (p / MANIFEST_NAME).is_file())
    if len(found) != 1:
        raise BuildError(f"{out_dir} holds {len(found)} bundle directories, expected exactly one")
    return found[0]
