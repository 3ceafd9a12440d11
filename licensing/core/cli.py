"""Command-line entry points for offline licensing. Each `*_main(argv) -> int` is shared by scripts/*.py and
the (later) Django management commands, so every path runs the same checks.

Conventions (as audit.trust.cli): exit 0 on success with a line saying what was done; on failure ONE line on
stderr and a non-zero exit (2 = usage, 1 = refused/failed); arguments are validated before anything is
written, so a bad invocation leaves no file behind.

Environment:
- OEM_DATA_DIR: data directory (audit.trust.paths.data_dir()): key ring, licenses/{registry.jsonl, crl.json,
  high_water.json, license.json, activation.json}.
- OEM_ALLOW_DEVELOPMENT_LICENSES: `true` lets the committed development license key verify (the demo);
  unset or `false` refuses it (licensing.core.devkeys). Refused outright when OEM_ENV is `production`.
- OEM_LICENSE_SIGNING_KEY_FILE: the vendor's Ed25519 PKCS8 PEM (default: the committed DEVELOPMENT key).
- OEM_LICENSE_USB_DONGLE: optional `vendor:product:serial` of a USB dongle that is part of the fingerprint.
- OEM_FINGERPRINT_ROOT: probe this directory instead of "/" (fake /sys, /proc, /etc trees); honoured only
  when OEM_ENV is `test` or `development`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.canonical import DOMAIN_FINGERPRINT, StrictJSONError, canonical_bytes, strict_loads
from audit.trust.cliutil import EXIT_FAIL, EXIT_OK, UsageError, fail, run
from audit.trust.cliutil import OneLineParser as _Parser
from audit.trust.fsutil import MAX_JSON_FILE, atomic_write_bytes, read_regular_file
from audit.trust.hashing import sha384_bytes
from audit.trust.keyring import KeyRing, format_time, utc_now
from licensing.core import intent as intents
from licensing.core import qr
from licensing.core.crl import build_crl
from licensing.core.device import device_state, installed_license_path, licenses_dir, observe_crl
from licensing.core.devkeys import development_licenses_allowed
from licensing.core.fingerprint import (
    CONTAINER_POLICY,
    CORE_COMPONENTS,
    DEFAULT_POLICY,
    ENV_PHYSICAL,
    POLICIES,
    SystemProbe,
    build_fingerprint,
    policy_named,
)
from licensing.core.high_water import update_mark
from licensing.core.intent import Intent, PlannedWrite, intent_path, operation_key, recover_local, run_local
from licensing.core.license_file import (
    MAX_LICENSE_BYTES,
    STAGES,
    License,
    build_license_body,
    check_features,
    check_stages,
    load_vendor_signer,
    parse_license,
    read_license_qr_png,
    to_qr_text,
)
from licensing.core.pin import installation_pin
from licensing.core.registry import Registry, crl_path, device_digest, registry_path, verify_registry
from licensing.core.request import MAX_REQUEST_BYTES, build_request, load_request
from licensing.core.request import to_qr_text as request_to_qr_text
from licensing.core.vendor_trust import trusted_verifying_key
from licensing.core.verify import verify_license

ACTIVATION_FORMAT = "oem-license-activation/1"
_EDITION = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\Z")


def _fail(message: str, code: int = EXIT_FAIL) -> int:
    return fail(message, code)


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None, action: Callable[[Any], int]) -> int:
    # every licensing/trust error is a ValueError with a one-line text
    return run(parser, argv, action, (ValueError, OSError))


# ---- environment ------------------------------------------------------------------------------------------
def oem_env() -> str:
    env = (os.environ.get("OEM_ENV") or "development").strip().lower()
    if env not in ("development", "test", "production"):
        raise ValueError(f"OEM_ENV={env!r} is not one of development, test, production")
    return env


def allow_development_keys() -> bool:
    return development_licenses_allowed()


def system_probe() -> SystemProbe:
    root = os.environ.get("OEM_FINGERPRINT_ROOT")
    if root:
        if oem_env() == "production":
            raise ValueError("OEM_FINGERPRINT_ROOT is honoured only when OEM_ENV is test or development")
        return SystemProbe(root)
    return SystemProbe("/")


def _usb_dongle() -> str | None:
    return os.environ.get("OEM_LICENSE_USB_DONGLE") or None


def _output_path(parser_prog: str, value: Path, what: str) -> Path:
    if value.is_dir():
        raise UsageError(f"{parser_prog}: {what} {value} is a directory")
    if not value.parent.is_dir():
        raise UsageError(f"{parser_prog}: directory of {what} {value} does not exist")
    return value


def _fingerprint_summary(record: dict[str, Any]) -> str:
    found = [c for c in record["found"]]
    core = sum(1 for c in found if c in CORE_COMPONENTS)
    missing = f"; missing: {', '.join(record['missing'])}" if record["missing"] else ""
    return f"components: {', '.join(found)} ({core} of {len(CORE_COMPONENTS)} core){missing}"


def _environment_line(record: dict[str, Any]) -> str | None:
    env = record["environment"]
    if env["kind"] == ENV_PHYSICAL:
        return None
    return f"warning: this machine is a {env['kind']} ({env['name']}): {'; '.join(env['evidence'])}"


# ---- fingerprint ------------------------------------------------------------------------------------------
def fingerprint_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="fingerprint", description="Show this machine's signed hardware fingerprint.")
    parser.add_argument("--json", action="store_true", help="print the signed record as canonical JSON")

    def action(args: argparse.Namespace) -> int:
        probe = system_probe()
        record = build_fingerprint(probe, keyring=KeyRing.load(), now=utc_now(), usb_dongle=_usb_dongle())
        if args.json:
            print(canonical_bytes(record).decode("utf-8"))
            return EXIT_OK
        print(f"fingerprint: {_fingerprint_summary(record)}")
        print(f"environment: {record['environment']['kind']} ({record['environment']['name']})")
        for name, value in sorted(record["components"].items()):
            print(f"  {name}: sha384:{value[:24]}...")
        warning = _environment_line(record)
        if warning:
            print(warning)
        return EXIT_OK

    return _run(parser, argv, action)


# ---- license request (device) -----------------------------------------------------------------------------
def license_request_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="license_request", description="Write this machine's license request (file / QR).")
    parser.add_argument("--out", type=Path, required=True, help="request file to write (JSON)")
    parser.add_argument("--qr", type=Path, default=None, help="also write the request as a QR code PNG")

    def action(args: argparse.Namespace) -> int:
        out = _output_path(parser.prog, args.out, "--out")
        qr_path = _output_path(parser.prog, args.qr, "--qr") if args.qr else None
        record = build_fingerprint(
            system_probe(), keyring=KeyRing.load(), now=utc_now(), usb_dongle=_usb_dongle()
        )
        document = build_request(
            record,
            hostname=socket.gethostname(),
            now=utc_now(),
            trust_root=installation_pin(paths.data_dir()),
        )
        png = qr.render_png(request_to_qr_text(document)) if qr_path else None  # fails before any write
        atomic_write_bytes(out, canonical_bytes(document) + b"\n")
        if qr_path and png is not None:
            atomic_write_bytes(qr_path, png)
        print(f"wrote license request {out} ({document['request_digest']})")
        print(f"  {_fingerprint_summary(record)}")
        if qr_path:
            print(f"  QR code: {qr_path}")
        warning = _environment_line(record)
        if warning:
            print(warning)
        return EXIT_OK

    return _run(parser, argv, action)


# ---- provisioning (vendor / admin) ------------------------------------------------------------------------
def oem_provision_license_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="oem_provision_license",
        description="Validate a device request, sign its license, record it in the registry.",
    )
    parser.add_argument("--request", type=Path, required=True, help="the device's request file")
    parser.add_argument("--customer", required=True)
    parser.add_argument("--stages", required=True, help="comma-separated subset of demo,paper,live")
    parser.add_argument("--valid-days", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="license file to write")
    parser.add_argument("--edition", default="standard")
    parser.add_argument("--features", default="", help="comma-separated feature names")
    parser.add_argument("--max-activations", type=int, default=1)
    parser.add_argument("--qr", type=Path, default=None, help="also write the license as a QR code PNG")
    parser.add_argument(
        "--replaces", type=int, default=None, help="reissue: serial of the license this replaces"
    )
    parser.add_argument(
        "--allow-virtual", action="store_true", help="license a device that reports a VM/container"
    )
    parser.add_argument(
        "--match-policy",
        default=DEFAULT_POLICY.name,
        choices=sorted(POLICIES),
        help=f"fingerprint matching policy recorded in the license (default {DEFAULT_POLICY.name}; "
        f"{CONTAINER_POLICY.name} for containers and small VPSs)",
    )
    parser.add_argument(
        "--foreign-request",
        action="store_true",
        help="accept a request from another installation whose fingerprint HMAC cannot be checked here "
        "(compare its digest with the device first)",
    )

    def action(args: argparse.Namespace) -> int:
        prog = parser.prog
        # -- every argument first: a bad invocation writes nothing (not even a key ring) --
        try:
            stages = check_stages([s.strip() for s in args.stages.split(",") if s.strip()])
            features = check_features([f.strip() for f in args.features.split(",") if f.strip()])
        except ValueError as exc:
            raise UsageError(f"{prog}: {exc}") from None
        if not args.customer.strip() or len(args.customer) > 200:
            raise UsageError(f"{prog}: --customer must be 1..200 characters")
        if not 1 <= args.valid_days <= 3650:
            raise UsageError(f"{prog}: --valid-days must be in 1..3650")
        if not 1 <= args.max_activations <= 1000:
            raise UsageError(f"{prog}: --max-activations must be in 1..1000")
        if not _EDITION.match(args.edition):
            raise UsageError(f"{prog}: --edition must match [a-z0-9][a-z0-9_.-]*")
        out = _output_path(prog, args.out, "--out").resolve()
        qr_path = _output_path(prog, args.qr, "--qr").resolve() if args.qr else None
        policy = policy_named(args.match_policy)
        allow_dev = allow_development_keys()
        signer = load_vendor_signer()  # fails early (and writes nothing) when the key is not trusted
        trusted_verifying_key(signer.kid, allow_development_keys=allow_dev)
        if not os.path.lexists(args.request):
            raise UsageError(f"{prog}: request file {args.request} does not exist")
        request_bytes = read_regular_file(args.request, max_bytes=MAX_REQUEST_BYTES, what="license request")

        keyring = KeyRing.load()
        request = load_request(request_bytes, keyring, allow_foreign=args.foreign_request)
        env = request.environment
        if env["kind"] != ENV_PHYSICAL and not args.allow_virtual:
            raise ValueError(
                f"request comes from a {env['kind']} ({env['name']}): "
                "pass --allow-virtual to license it anyway"
            )
        components = request.components
        unmet = policy.unmet_by(components)
        if unmet:
            raise ValueError(
                f"{unmet} (missing {', '.join(request.fingerprint['missing']) or 'nothing'}); "
                f"choose another --match-policy ({', '.join(sorted(POLICIES))})"
            )
        now = utc_now()

        def body(serial: int) -> dict[str, Any]:
            return build_license_body(
                serial=serial,
                customer=args.customer.strip(),
                components=components,
                issued_at=now,
                not_before=now,
                expires_at=now + timedelta(days=args.valid_days),
                stages=stages,
                edition=args.edition,
                features=features,
                max_activations=args.max_activations,
                allow_virtual=env["kind"] != ENV_PHYSICAL,
                request_digest=request.digest,
                trust_root=request.trust_root,
                match_policy=policy.name,
            )

        def outputs(entry: dict[str, Any], state: Any) -> list[PlannedWrite]:
            lic = parse_license(entry["data"]["license"])
            writes = []
            if args.replaces is not None:
                crl = build_crl(state.revoked_list(), number=state.seq, issued_at=now, signer=signer)
                writes.append(PlannedWrite(crl_path().resolve(), canonical_bytes(crl) + b"\n"))
            writes.append(PlannedWrite(out, lic.to_bytes()))
            if qr_path is not None:  # rendered before any write: a code that does not fit stops here
                writes.append(PlannedWrite(qr_path, qr.render_png(to_qr_text(lic))))
            return writes

        key = operation_key(
            op="provision", request=request.digest, out=out, qr=qr_path, replaces=args.replaces
        )
        registry = Registry(registry_path(), allow_development_keys=allow_dev, keyring=keyring)
        recovered = registry.recover()
        if recovered is not None and recovered.key == key:
            print(f"{recovered.summary} (completed after an interruption)")
            return EXIT_OK
        verb = f"reissued (replaces {args.replaces})" if args.replaces is not None else "issued"

        def summary(entry: dict[str, Any]) -> str:
            return f"{verb} license serial {entry['data']['serial']} for {args.customer.strip()} -> {out}"

        intent = {"outputs": outputs, "op": "provision", "key": key, "summary": summary}
        if args.replaces is not None:
            reason = f"reissued for {request.digest}"
            lic = registry.reissue(args.replaces, body, signer, reason=reason, at=now, **intent)
            observe_crl(paths.data_dir(), allow_development_keys=allow_dev)
        else:
            lic = registry.issue(body, signer, at=now, request_digest=request.digest, **intent)
        print(
            f"{verb} license serial {lic.serial} for {lic.customer}: stages {','.join(lic.stages)}, "
            f"edition {lic.edition}, policy {lic.match_policy.name}, expires {format_time(lic.expires_at)}, "
            f"signed by {signer.kid} -> {out}"
        )
        origin = (
            "device HMAC verified" if request.device_hmac_verified else "foreign, digest confirmed by admin"
        )
        print(f"  request {request.digest} ({origin}); pinned {request.trust_root.short()}...")
        print(f"  registry: {registry.path}")
        if qr_path:
            print(f"  QR code: {qr_path}")
        return EXIT_OK

    return _run(parser, argv, action)


# ---- activation (device) ----------------------------------------------------------------------------------
def _activation_path() -> Path:
    return licenses_dir(paths.data_dir()) / "activation.json"


def _installed_license_path() -> Path:
    return installed_license_path(paths.data_dir())


def load_local_activation(keyring: KeyRing) -> dict[str, Any] | None:
    """The device's signed activation record, or None. A tampered record raises ValueError."""
    from audit.trust.canonical import signing_input

    path = _activation_path()
    try:
        doc = strict_loads(read_regular_file(path, max_bytes=MAX_JSON_FILE, what="activation record"))
    except FileNotFoundError:
        return None
    except StrictJSONError as exc:
        raise ValueError(f"activation record {path} is not strict JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != ACTIVATION_FORMAT or "signature" not in doc:
        raise ValueError(f"activation record {path} has an unexpected structure")
    body = {k: v for k, v in doc.items() if k != "signature"}
    keyring.verify(doc["signature"], signing_input(DOMAIN_FINGERPRINT, body), purpose="fingerprint")
    return doc


def activate_license_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="activate_license", description="Verify a license against this machine and activate it."
    )
    parser.add_argument("file", nargs="?", type=Path, help="license file (JSON)")
    parser.add_argument("--qr", type=Path, default=None, help="read the license from a QR code image instead")
    parser.add_argument(
        "--stage", choices=STAGES, default=None, help="also require this stage to be licensed"
    )

    def action(args: argparse.Namespace) -> int:
        if (args.file is None) == (args.qr is None):
            raise UsageError(f"{parser.prog}: give exactly one of FILE or --qr PNG")
        if not os.path.lexists(args.file or args.qr):
            raise UsageError(f"{parser.prog}: {args.file or args.qr} does not exist")
        lic: License = (
            read_license_qr_png(args.qr)
            if args.qr
            else parse_license(read_regular_file(args.file, max_bytes=MAX_LICENSE_BYTES, what="license"))
        )
        allow_dev = allow_development_keys()
        data_dir = paths.data_dir()
        keyring = KeyRing.load()
        now = utc_now()
        key = operation_key(op="activate", license=sha384_bytes(lic.to_bytes()))
        registry = Registry(registry_path(), allow_development_keys=allow_dev, keyring=keyring)
        pending_path = intent_path(licenses_dir(data_dir))
        recovered = registry.recover() if registry.path.exists() else recover_local(pending_path, keyring)
        if recovered is not None and recovered.key == key:
            update_mark(keyring, now)
            print(f"{recovered.summary} (completed after an interruption)")
            return EXIT_OK
        device = device_state(
            data_dir,
            keyring,
            now=now,
            probe=system_probe(),
            usb_dongle=_usb_dongle(),
            allow_development_keys=allow_dev,
            first_use=True,
        )
        status = verify_license(
            lic,
            fingerprint_record=device.record,
            now=now,
            stage=args.stage,
            revoked_serials=device.crl.serials if device.crl else (),
            high_water=device.mark,
            allow_development_keys=allow_dev,
            trust_root=device.pin,
        )
        if not status.valid:
            return _fail(f"license {lic.serial} refused: {status.summary()}")

        previous = load_local_activation(keyring)
        same = previous is not None and previous.get("serial") == lic.serial
        activation_id = previous["activation_id"] if same else f"act-{secrets.token_hex(8)}"
        body = {
            "format": ACTIVATION_FORMAT,
            "serial": lic.serial,
            "activation_id": activation_id,
            "license_sha384": sha384_bytes(lic.to_bytes()),
            "activated_at": previous["activated_at"] if same else format_time(now),
            "checked_at": format_time(now),
            "matched": list(status.matched),
            "changed": list(status.changed),
        }
        signature = keyring.hmac_signer("fingerprint").sign(DOMAIN_FINGERPRINT, body)
        # The installed license is written last: until then the daemon keeps seeing the previous state.
        writes = [
            PlannedWrite(
                _activation_path().resolve(), canonical_bytes({**body, "signature": signature}) + b"\n", 0o600
            ),
            PlannedWrite(_installed_license_path().resolve(), lic.to_bytes()),
        ]
        done = (
            f"activated license serial {lic.serial} for {lic.customer} (activation {activation_id}, "
            f"stages {','.join(lic.stages)}, policy {lic.match_policy.name}, "
            f"expires {format_time(lic.expires_at)})"
        )
        if registry.path.exists() and not same:
            # Single-box install: the registry lives here, so the activation policy is enforced right away;
            # the device files are written only once the registry line is (one intent covers both).
            registry.activate(
                lic.serial,
                activation_id,
                device_digest=device_digest(device.record["components"]),
                signer=load_vendor_signer(),
                at=now,
                outputs=lambda entry, state: writes,
                op="activate",
                key=key,
                summary=done,
            )
            recorded = f"recorded in {registry.path}"
        else:
            run_local(pending_path, Intent("activate", key, None, None, tuple(writes), done), keyring)
            recorded = (
                "already active on this machine"
                if same
                else "no local registry: report the activation id to the vendor console"
            )
        intents.crash_point("before the high-water mark")
        update_mark(keyring, now)
        print(f"{done}; {recorded}")
        print(f"  matched components: {', '.join(status.matched)}")
        if status.changed:
            print(f"  changed components (tolerated by policy): {', '.join(status.changed)}")
        return EXIT_OK

    return _run(parser, argv, action)


# ---- revocation and registry verification (vendor / admin) ------------------------------------------------
def revoke_license_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="revoke_license", description="Revoke a license and publish a new signed CRL.")
    parser.add_argument("--serial", type=int, required=True)
    parser.add_argument("--reason", required=True)

    def action(args: argparse.Namespace) -> int:
        if args.serial < 1:
            raise UsageError(f"{parser.prog}: --serial must be a positive integer")
        if not args.reason.strip() or len(args.reason) > 500:
            raise UsageError(f"{parser.prog}: --reason must be 1..500 characters")
        allow_dev = allow_development_keys()
        registry = Registry(registry_path(), allow_development_keys=allow_dev, keyring=KeyRing.load())
        if not registry.path.exists():
            raise ValueError(f"no license registry at {registry.path}")
        signer = load_vendor_signer()
        trusted_verifying_key(signer.kid, allow_development_keys=allow_dev)
        key = operation_key(op="revoke", serial=args.serial)
        recovered = registry.recover()
        if recovered is not None and recovered.key == key:
            print(f"{recovered.summary} (completed after an interruption)")
            return EXIT_OK
        now = utc_now()
        target = crl_path().resolve()

        def outputs(entry: dict[str, Any], state: Any) -> list[PlannedWrite]:
            crl = build_crl(state.revoked_list(), number=state.seq, issued_at=now, signer=signer)
            return [PlannedWrite(target, canonical_bytes(crl) + b"\n")]

        def summary(entry: dict[str, Any]) -> str:
            return (
                f"revoked license serial {args.serial} ({args.reason.strip()}); CRL number {entry['seq']} "
                f"-> {target}"
            )

        registry.revoke(
            args.serial,
            reason=args.reason.strip(),
            signer=signer,
            at=now,
            outputs=outputs,
            op="revoke",
            key=key,
            summary=summary,
        )
        crl = observe_crl(paths.data_dir(), allow_development_keys=allow_dev)
        listed = len(crl.serials) if crl is not None else 0
        print(
            f"revoked license serial {args.serial} ({args.reason.strip()}); CRL number "
            f"{crl.number if crl else '?'} lists {listed} serial(s) -> {target}"
        )
        return EXIT_OK

    return _run(parser, argv, action)


def verify_license_registry_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="verify_license_registry", description="Verify the license registry's chain and signatures."
    )
    parser.add_argument(
        "--registry", type=Path, default=None, help="default: <data_dir>/licenses/registry.jsonl"
    )
    parser.add_argument("--json", action="store_true", help="print problems as a JSON list")

    def action(args: argparse.Namespace) -> int:
        path = args.registry or registry_path()
        # The data dir's own registry is compared with its witness (an older copy, or a deleted file, is
        # refused); a copy named elsewhere is checked for its chain, signatures and checkpoint only.
        own = path.resolve() == registry_path().resolve()
        problems = verify_registry(path, allow_development_keys=allow_development_keys(), witness=own)
        if not problems and not path.is_file():
            raise ValueError(f"no license registry at {path}")
        if args.json:
            print(json.dumps(problems))
        if problems:
            if not args.json:
                for problem in problems:
                    print(problem)
            return _fail(f"license registry {path} has {len(problems)} problem(s), first: {problems[0]}")
        state = Registry(path, allow_development_keys=allow_development_keys(), witness=own).read_state()
        live = sum(1 for s in state.licenses.values() if s.status == "live")
        if not args.json:
            copy = "" if own else "; a copy: not compared with the witness"
            print(
                f"license registry ok: {state.seq} entries, {len(state.licenses)} licenses ({live} live), "
                f"next serial {state.next_serial()} ({path}{copy})"
            )
        return EXIT_OK

    return _run(parser, argv, action)
