"""The mTLS bundle directory, ``live_bundle.tar.gz`` and the three admin CLIs.

Layout of ``DIR`` (what ``generate_mtls_bundle --out DIR`` writes)::

    ca.pem  ca.key           offline CA (move ca.key off the operator box after issuing; 0600)
    server.pem  server.key   daemon certificate for localhost / 127.0.0.1 / ::1
    crl.pem                  CA-signed CRL (fail closed when past nextUpdate)
    clients/<op>.pem .key    one client certificate per operator (CN = operator name)
    inventory.json           every certificate issued: serial, kind, CN, not_after, revoked
    live_bundle.tar.gz       deterministic tar of what the daemon trusts and serves (ca.pem, server.pem,
                             server.key); its SHA-384 is the ``mtls_fingerprint`` of the live_ready entry
    live_bundle.sha384       "sha384:<hex>"

The CRL and client certificates are deliberately outside the tar: revoking an operator must not unlock or
relock live. Rotating the server certificate does change the bundle, so live stays locked until a new
live_ready entry records the new fingerprint (fail closed, by design).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import tarfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from audit.trust.canonical import strict_loads
from audit.trust.fsutil import (
    MAX_JSON_FILE,
    MAX_PEM_FILE,
    atomic_write_bytes,
    exclusive_lock,
    read_regular_file,
)
from audit.trust.hashing import sha384_bytes, sha384_file
from execution.mtls.pki import (
    Issued,
    PkiError,
    build_crl,
    create_ca,
    issue_client_cert,
    issue_server_cert,
    load_cert,
    load_private_key,
    utc_now,
)

BUNDLE_NAME = "live_bundle.tar.gz"
BUNDLE_MEMBERS = ("ca.pem", "server.key", "server.pem")
DEFAULT_DAYS = 90
DEFAULT_CA_DAYS = 1825
DEFAULT_CRL_DAYS = 30
EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class BundleError(ValueError):
    pass


def _write_key(path: Path, pem: bytes) -> None:
    atomic_write_bytes(path, pem, mode=0o600)


def _write_issued(directory: Path, stem: str, issued: Issued) -> None:
    _write_key(directory / f"{stem}.key", issued.key_pem)
    atomic_write_bytes(directory / f"{stem}.pem", issued.cert_pem)


def _load_issued(directory: Path, stem: str) -> Issued:
    try:
        return Issued(
            load_private_key(_read_pem(directory / f"{stem}.key")),
            load_cert(_read_pem(directory / f"{stem}.pem")),
        )
    except OSError as exc:
        raise BundleError(f"cannot read {directory / stem}.pem/.key: {exc.strerror}") from None


def _read_pem(path: Path) -> bytes:
    return read_regular_file(path, max_bytes=MAX_PEM_FILE, what="PEM file")


def _inventory_path(directory: Path) -> Path:
    return directory / "inventory.json"


def load_inventory(directory: Path) -> dict:
    path = _inventory_path(directory)
    if not path.exists():
        return {"certificates": []}
    return strict_loads(read_regular_file(path, max_bytes=MAX_JSON_FILE, what="certificate inventory"))


def _save_inventory(directory: Path, inventory: dict) -> None:
    text = json.dumps(inventory, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(_inventory_path(directory), text.encode("utf-8"))


def _record(inventory: dict, kind: str, name: str, issued: Issued) -> None:
    inventory["certificates"].append(
        {
            "serial": issued.cert.serial_number,
            "kind": kind,
            "cn": name,
            "not_before": issued.cert.not_valid_before_utc.isoformat(),
            "not_after": issued.cert.not_valid_after_utc.isoformat(),
            "revoked_at": None,
        }
    )


def source_date_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH", "0")
    try:
        return max(0, int(raw))
    except ValueError:
        raise BundleError("SOURCE_DATE_EPOCH must be an integer") from None


def build_bundle_bytes(directory: Path) -> bytes:
    """Deterministic tar.gz of BUNDLE_MEMBERS: sorted, mtime SOURCE_DATE_EPOCH (0), uid/gid 0, no names."""
    mtime = source_date_epoch()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(BUNDLE_MEMBERS):
            data = (directory / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o600 if name.endswith(".key") else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=mtime, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_bundle(directory: Path) -> str:
    """(Re)write live_bundle.tar.gz and live_bundle.sha384; returns ``sha384:<hex>``."""
    data = build_bundle_bytes(directory)
    atomic_write_bytes(directory / BUNDLE_NAME, data, mode=0o600)
    fingerprint = "sha384:" + sha384_bytes(data)
    atomic_write_bytes(directory / "live_bundle.sha384", (fingerprint + "\n").encode("ascii"))
    return fingerprint


def bundle_fingerprint(directory: Path) -> str:
    return "sha384:" + sha384_file(Path(directory) / BUNDLE_NAME)


def bundle_matches_files(directory: Path) -> list[str]:
    """Problems when the files the daemon loads differ from the members of live_bundle.tar.gz."""
    directory = Path(directory)
    problems = []
    try:
        data = read_regular_file(directory / BUNDLE_NAME, max_bytes=MAX_JSON_FILE, what="mTLS bundle")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            names = []
            while (member := tar.next()) is not None and len(names) <= len(BUNDLE_MEMBERS):
                names.append(member.name)
            names.sort()
            if names != sorted(BUNDLE_MEMBERS):
                return [f"{BUNDLE_NAME} holds {names}, expected {sorted(BUNDLE_MEMBERS)}"]
            for name in BUNDLE_MEMBERS:
                member = tar.extractfile(name)
                if member is None or member.read(MAX_PEM_FILE + 1) != _read_pem(directory / name):
                    problems.append(f"{name} in use differs from the copy in {BUNDLE_NAME}")
    except (OSError, tarfile.TarError) as exc:
        return [f"cannot read {directory / BUNDLE_NAME}: {exc}"]
    return problems


def write_crl(directory: Path, ca: Issued, inventory: dict, *, days: int, now: datetime) -> Path:
    revoked = {
        int(c["serial"]): datetime.fromisoformat(c["revoked_at"])
        for c in inventory["certificates"]
        if c.get("revoked_at")
    }
    crl = build_crl(ca, revoked, days=days, now=now)
    from cryptography.hazmat.primitives import serialization

    path = directory / "crl.pem"
    atomic_write_bytes(path, crl.public_bytes(serialization.Encoding.PEM))
    return path


def generate_bundle(
    directory: Path,
    operators: Sequence[str],
    *,
    days: int = DEFAULT_DAYS,
    ca_days: int = DEFAULT_CA_DAYS,
    crl_days: int = DEFAULT_CRL_DAYS,
    now: datetime | None = None,
) -> str:
    """New CA, server certificate, a client certificate per operator, CRL and bundle. Returns fingerprint."""
    now = now or utc_now()
    directory = Path(directory)
    if (directory / "ca.key").exists():
        raise BundleError(f"{directory} already holds a CA (ca.key); use rotate_certs or another --out")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "clients").mkdir(exist_ok=True, mode=0o700)
    ca = create_ca(days=ca_days, now=now)
    _write_issued(directory, "ca", ca)
    inventory = {"certificates": []}
    _record(inventory, "ca", "ca", ca)
    server = issue_server_cert(ca, days=days, now=now)
    _write_issued(directory, "server", server)
    _record(inventory, "server", "localhost", server)
    for operator in operators:
        client = issue_client_cert(ca, operator, days=days, now=now)
        _write_issued(directory / "clients", operator, client)
        _record(inventory, "client", operator, client)
    _save_inventory(directory, inventory)
    write_crl(directory, ca, inventory, days=crl_days, now=now)
    return write_bundle(directory)


def add_operator(directory: Path, operator: str, *, days: int = DEFAULT_DAYS, now: datetime | None = None):
    directory = Path(directory)
    with exclusive_lock(directory / ".mtls.lock"):
        ca = _load_issued(directory, "ca")
        inventory = load_inventory(directory)
        client = issue_client_cert(ca, operator, days=days, now=now)
        _write_issued(directory / "clients", operator, client)
        _record(inventory, "client", operator, client)
        _save_inventory(directory, inventory)
        return client


def revoke(
    directory: Path,
    *,
    serial: int | None = None,
    operator: str | None = None,
    crl_days: int = DEFAULT_CRL_DAYS,
    now: datetime | None = None,
) -> list[int]:
    """Mark certificates revoked (by serial, or every live certificate of an operator) and write a new CRL."""
    now = now or utc_now()
    directory = Path(directory)
    with exclusive_lock(directory / ".mtls.lock"):
        ca = _load_issued(directory, "ca")
        inventory = load_inventory(directory)
        hits = [
            c
            for c in inventory["certificates"]
            if c["kind"] != "ca"
            and ((serial is not None and int(c["serial"]) == serial) or (operator and c["cn"] == operator))
        ]
        if not hits:
            what = f"serial {serial}" if serial is not None else f"operator {operator}"
            raise BundleError(f"no certificate with {what} in {_inventory_path(directory)}")
        for cert in hits:
            cert["revoked_at"] = cert["revoked_at"] or now.isoformat()
        _save_inventory(directory, inventory)
        write_crl(directory, ca, inventory, days=crl_days, now=now)
        return [int(c["serial"]) for c in hits]


def _past_two_thirds(not_before: datetime, not_after: datetime, now: datetime) -> bool:
    return now >= not_before + (not_after - not_before) * 2 / 3


def rotate(
    directory: Path,
    *,
    days: int = DEFAULT_DAYS,
    crl_days: int = DEFAULT_CRL_DAYS,
    now: datetime | None = None,
    force: bool = False,
) -> tuple[list[str], str]:
    """Renew server/client certificates past 2/3 of their lifetime; refresh the CRL; rebuild the bundle.

    Returns (renewed names, bundle fingerprint). The old certificates stay valid until they expire (so
    clients can switch over); revoke them explicitly if they must stop working at once.
    """
    now = now or utc_now()
    directory = Path(directory)
    renewed: list[str] = []
    with exclusive_lock(directory / ".mtls.lock"):
        ca = _load_issued(directory, "ca")
        if _past_two_thirds(ca.cert.not_valid_before_utc, ca.cert.not_valid_after_utc, now):
            print(f"warning: the CA is past 2/3 of its lifetime (expires {ca.cert.not_valid_after_utc})")
        inventory = load_inventory(directory)
        server = load_cert(_read_pem(directory / "server.pem"))
        if force or _past_two_thirds(server.not_valid_before_utc, server.not_valid_after_utc, now):
            fresh = issue_server_cert(ca, days=days, now=now)
            _write_issued(directory, "server", fresh)
            _record(inventory, "server", "localhost", fresh)
            renewed.append("server")
        revoked_serials = {int(c["serial"]) for c in inventory["certificates"] if c.get("revoked_at")}
        for pem in sorted((directory / "clients").glob("*.pem")):
            cert = load_cert(_read_pem(pem))
            if cert.serial_number in revoked_serials:
                continue
            if force or _past_two_thirds(cert.not_valid_before_utc, cert.not_valid_after_utc, now):
                fresh = issue_client_cert(ca, pem.stem, days=days, now=now)
                _write_issued(directory / "clients", pem.stem, fresh)
                _record(inventory, "client", pem.stem, fresh)
                renewed.append(f"client {pem.stem}")
        _save_inventory(directory, inventory)
        write_crl(directory, ca, inventory, days=crl_days, now=now)
        return renewed, write_bundle(directory)


# ---- CLIs -------------------------------------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None, action) -> int:
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        return action(args)
    except (BundleError, PkiError, OSError, ValueError) as exc:
        print(f"{parser.prog}: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_FAIL


def generate_mtls_bundle_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="generate_mtls_bundle", description="Offline CA + mTLS bundle.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--operators", default="operator", help="comma-separated operator names")
    parser.add_argument("--days", type=_positive, default=DEFAULT_DAYS)
    parser.add_argument("--ca-days", type=_positive, default=DEFAULT_CA_DAYS)
    parser.add_argument("--crl-days", type=_positive, default=DEFAULT_CRL_DAYS)

    def action(args) -> int:
        if args.out.name.endswith((".tar.gz", ".tgz")):
            raise BundleError(
                f"--out {args.out}: --out is the bundle directory ({BUNDLE_NAME} is written in it)"
            )
        operators = [o.strip() for o in args.operators.split(",") if o.strip()]
        if not operators or len(set(operators)) != len(operators):
            raise BundleError("--operators must list distinct, non-empty names")
        fingerprint = generate_bundle(
            args.out, operators, days=args.days, ca_days=args.ca_days, crl_days=args.crl_days
        )
        print(f"wrote CA, server certificate, {len(operators)} client certificate(s) and CRL to {args.out}")
        print(f"bundle {args.out / BUNDLE_NAME}")
        print(fingerprint)
        return EXIT_OK

    return _run(parser, argv, action)


def revoke_client_cert_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="revoke_client_cert", description="Revoke and re-sign the CRL.")
    parser.add_argument("--dir", type=Path, required=True)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--serial", type=int)
    group.add_argument("--operator")
    parser.add_argument("--crl-days", type=_positive, default=DEFAULT_CRL_DAYS)

    def action(args) -> int:
        serials = revoke(args.dir, serial=args.serial, operator=args.operator, crl_days=args.crl_days)
        print(f"revoked serial(s) {', '.join(map(str, serials))}; new CRL {args.dir / 'crl.pem'}")
        return EXIT_OK

    return _run(parser, argv, action)


def rotate_certs_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rotate_certs", description="Renew certificates past 2/3 of life.")
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--days", type=_positive, default=DEFAULT_DAYS)
    parser.add_argument("--crl-days", type=_positive, default=DEFAULT_CRL_DAYS)
    parser.add_argument("--force", action="store_true", help="renew every certificate now")

    def action(args) -> int:
        renewed, fingerprint = rotate(args.dir, days=args.days, crl_days=args.crl_days, force=args.force)
        print(f"renewed: {', '.join(renewed) if renewed else 'nothing (all within 2/3 of lifetime)'}")
        print(fingerprint)
        return EXIT_OK

    return _run(parser, argv, action)


def days_left(cert_not_after: datetime, now: datetime | None = None) -> float:
    return (cert_not_after - (now or utc_now())) / timedelta(days=1)
