"""Command-line entry points. Each `*_main(argv) -> int` is shared by scripts/*.py and the Django
management commands (thin wrappers), so every path runs the same checks.

Conventions: exit 0 on success; on any error ONE line on stderr and a non-zero exit (2 = usage), with
nothing half-written. Passwords are read from --password-file or stdin, one per line, never from argv.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit.trust import paths
from audit.trust.artefact_archive import ArchiveError, archive_artefacts, discard_archive
from audit.trust.cliutil import EXIT_FAIL, EXIT_OK, fail, run
from audit.trust.cliutil import OneLineParser as _Parser
from audit.trust.core_config import ConfigError, sign_file, validate_config
from audit.trust.decision_log import append_entry
from audit.trust.decision_rules import DecisionLogError, artefact_file
from audit.trust.fsutil import MAX_KEY_FILE, read_regular_text
from audit.trust.gates import gate_for_status
from audit.trust.keyring import HMAC_PURPOSES, KeyRing, KeyRingError
from audit.trust.signatures import SignatureError
from audit.trust.verifier import verify_decision_logs

_EXPECTED = (ArchiveError, ConfigError, DecisionLogError, KeyRingError, SignatureError, OSError, ValueError)


def _fail(message: str, code: int = EXIT_FAIL) -> int:
    return fail(message, code)


def _run(parser: argparse.ArgumentParser, argv: Sequence[str] | None, action) -> int:
    return run(parser, argv, action, _EXPECTED)


# ---- validate_config / sign_config -------------------------------------------------------------------
def validate_config_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="validate_config", description="Validate and hash config/core.yaml.")
    parser.add_argument("--profile", required=True, choices=("demo", "paper", "live"))
    parser.add_argument("--config", type=Path, default=None, help="default: config/core.yaml")
    parser.add_argument("--env", type=Path, default=None, help="also check this .env file's .env.sig")
    parser.add_argument("--schema", type=Path, default=None, help="default: docs/schemas/core_config.json")

    def action(args) -> int:
        result = validate_config(args.config, args.profile, schema_path=args.schema, env_path=args.env)
        print(f"config: {result.path}")
        print(f"profile: {result.profile}")
        print(f"signed-by: {result.signed_by}")
        print(f"sha256:{result.sha256}")
        print(f"sha384:{result.sha384}")
        return EXIT_OK

    return _run(parser, argv, action)


def sign_config_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="sign_config", description="Write <file>.sig (HMAC-SHA384, current config key).")
    parser.add_argument("--config", type=Path, default=None, help="default: config/core.yaml")
    parser.add_argument("--env", type=Path, default=None, help="also sign this .env file")

    def action(args) -> int:
        keyring = KeyRing.load()
        targets = [args.config or paths.DEFAULT_CONFIG_PATH, *([args.env] if args.env else [])]
        for target in targets:
            if not Path(target).is_file():
                raise ConfigError(f"cannot sign {target}: no such file")
        for target in targets:
            print(f"signed {target} -> {sign_file(target, keyring)}")
        return EXIT_OK

    return _run(parser, argv, action)


# ---- verify_decision_log (+ update) ------------------------------------------------------------------
def verify_decision_log_main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["update"]:
        return _update_main(argv[1:])
    if argv[:1] == ["recover"]:
        return _recover_main(argv[1:])
    parser = _Parser(prog="verify_decision_log", description="Strictly verify the decision logs.")
    parser.add_argument("--strict", action="store_true", help="as the runbooks write it; always strict")
    parser.add_argument("--log", type=Path, action="append", help="a log (repeatable); default: all three")
    parser.add_argument(
        "--schema", type=Path, default=None, help="default: docs/schemas/decision_log_v2.json"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="re-verify every line instead of resuming from the recorded verified state",
    )

    def action(args) -> int:
        for log in args.log or ():
            # A log named explicitly must exist: a wrong path is not "0 entries, OK". Only existence is
            # checked here; a FIFO or device is refused by the bounded reader with its own reason.
            if not log.exists():
                raise DecisionLogError(f"decision log {log} does not exist")
        report = verify_decision_logs(args.log, schema_path=args.schema, full=args.full)
        for problem in report.problems:
            print(str(problem), file=sys.stderr)
        if not report.ok:
            return EXIT_FAIL
        how = "in full" if args.full else "(lines appended since the last verification re-checked)"
        print(f"OK: {len(report.entries)} entries verified in {len(report.files)} logs {how}")
        return EXIT_OK

    return _run(parser, argv, action)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"expected key=value, got {text!r}")
    return key, value


def _read_passwords(password_file: Path | None, count: int) -> list[str]:
    stream = (
        read_regular_text(password_file, max_bytes=MAX_KEY_FILE, what="password file")
        if password_file
        else sys.stdin.read(MAX_KEY_FILE)
    )
    lines = stream.splitlines()
    if len(lines) < count:
        raise ValueError(f"expected {count} password line(s), got {len(lines)}")
    return lines[:count]


def _parse_artefact(value: str, base: Path) -> Any:
    if value.startswith("@"):
        return artefact_file(value[1:], base)
    return None if value in ("", "null") else value


def _parse_flag(value: str) -> bool:
    if value not in ("true", "false"):
        raise ValueError(f"flag values must be true or false, got {value!r}")
    return value == "true"


def _update_main(argv: list[str]) -> int:
    parser = _Parser(prog="verify_decision_log update", description="Sign and append a decision entry.")
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--stage", required=True, choices=("demo", "paper", "live"))
    parser.add_argument("--status", required=True)
    parser.add_argument("--artefact", action="append", default=[], help="k=v, k=null, or k=@file (hashed)")
    parser.add_argument("--flag", action="append", default=[], help="runtime flag k=true|false")
    parser.add_argument("--signer", action="append", required=True, help="ROLE=USERNAME (repeatable)")
    parser.add_argument("--note", default=None)
    parser.add_argument("--password-file", type=Path, default=None, help="one password per signer, in order")

    def action(args) -> int:
        from audit.trust.decision_rules import LOG_STAGE, log_name_of

        base = paths.data_dir()
        if LOG_STAGE.get(log_name_of(args.log)) != args.stage:
            raise DecisionLogError(f"stage {args.stage} does not match log {args.log.name}")
        artefacts = dict(_key_value(a) for a in args.artefact)
        artefacts = {k: _parse_artefact(v, base) for k, v in artefacts.items()}
        flags = {k: _parse_flag(v) for k, v in (_key_value(f) for f in args.flag)}
        signer_pairs = [_key_value(s) for s in args.signer]
        passwords = _read_passwords(args.password_file, len(signer_pairs))
        keyring = KeyRing.load(base)
        signers = {}
        for (role, username), password in zip(signer_pairs, passwords, strict=True):
            if role in signers:
                raise ValueError(f"role {role} given twice")
            signers[role] = keyring.signer_for(username, password, role=role)
        gate = gate_for_status(args.status)
        created = None
        if gate is not None:  # the entry records archived copies, checked by kind before anything stays
            artefacts, created = archive_artefacts(artefacts, gate=gate.name, data_dir=base)
        try:
            entry = append_entry(
                args.log,
                status=args.status,
                artefacts=artefacts,
                runtime_flags=flags,
                signers=signers,
                keyring=keyring,
                data_dir=base,
                note=args.note,
            )
        except DecisionLogError:
            discard_archive(created)
            raise
        print(f"appended seq {entry['seq']} status={entry['status']} to {args.log}")
        return EXIT_OK

    return _run(parser, argv, action)


def _recover_main(argv: list[str]) -> int:
    parser = _Parser(prog="verify_decision_log recover", description="Repair an append cut short by a crash.")
    parser.add_argument("--log", type=Path, required=True)

    def action(args) -> int:
        from audit.trust.decision_log import recover_interrupted_append

        base = paths.data_dir()
        done = recover_interrupted_append(args.log, KeyRing.load(base), base)
        print(done or "nothing to recover")
        return EXIT_OK

    return _run(parser, argv, action)


# ---- keys --------------------------------------------------------------------------------------------
def keys_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="keys", description="Manage the key ring.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    create = sub.add_parser("create-signer", help="new Ed25519 signer key (retires the user's previous one)")
    create.add_argument("--user", required=True)
    create.add_argument("--roles", required=True, help="comma-separated: owner,compliance,engineer")
    create.add_argument("--password-file", type=Path, default=None, help="else read one line from stdin")
    create.add_argument(
        "--admin-password-file",
        type=Path,
        default=None,
        help="installation administrator password (certifies the key); else the next stdin line",
    )
    rotate = sub.add_parser("rotate", help="new HMAC key for a purpose (the old one keeps verifying)")
    rotate.add_argument("--purpose", required=True, choices=sorted(HMAC_PURPOSES))
    sub.add_parser("list", help="list keys (never key material)")
    retire = sub.add_parser("retire", help="retire a key: it verifies old data, never signs new")
    retire.add_argument("--kid", required=True)

    def action(args) -> int:
        keyring = KeyRing.load()
        if args.command == "create-signer":
            if args.password_file and args.admin_password_file:
                (password,) = _read_passwords(args.password_file, 1)
                (admin_password,) = _read_passwords(args.admin_password_file, 1)
            elif args.admin_password_file:
                (admin_password,) = _read_passwords(args.admin_password_file, 1)
                (password,) = _read_passwords(None, 1)
            elif args.password_file:
                (password,) = _read_passwords(args.password_file, 1)
                (admin_password,) = _read_passwords(None, 1)
            else:
                password, admin_password = _read_passwords(None, 2)
            roles = [r.strip() for r in args.roles.split(",") if r.strip()]
            record = keyring.create_signer_key(args.user, roles, password, admin_password=admin_password)
            print(f"created {record.kid} for {record.owner} roles={','.join(record.roles)}")
        elif args.command == "rotate":
            record = keyring.rotate_hmac_key(args.purpose)
            print(f"rotated {args.purpose}: new key {record.kid}")
        elif args.command == "retire":
            record = keyring.retire_key(args.kid)
            print(f"retired {record.kid}")
        else:
            for record in sorted(keyring.list_keys(), key=lambda r: (r.purpose, r.created_at)):
                owner = f" owner={record.owner} roles={','.join(record.roles)}" if record.owner else ""
                until = record.valid_until or "-"
                print(
                    f"{record.kid} {record.algorithm} purpose={record.purpose} status={record.status}"
                    f" valid={record.valid_from}..{until}{owner}"
                )
        return EXIT_OK

    return _run(parser, argv, action)


# ---- installation ------------------------------------------------------------------------------------
def init_installation_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="init_installation",
        description="Set up this installation's trust root, once (never re-created; restore from backup).",
    )
    parser.add_argument(
        "--admin-password-file", type=Path, default=None, help="else read one line from stdin"
    )

    def action(args) -> int:
        from audit.trust.installation import init_installation

        (admin_password,) = _read_passwords(args.admin_password_file, 1)
        installation = init_installation(paths.data_dir(), admin_password)
        _print_installation(installation)
        return EXIT_OK

    return _run(parser, argv, action)


def installation_main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="installation", description="Show this installation's id and root fingerprint.")

    def action(_args) -> int:
        from audit.trust.installation import load_installation

        _print_installation(load_installation(paths.data_dir()))
        return EXIT_OK

    return _run(parser, argv, action)


def _print_installation(installation) -> None:
    print(f"installation_id: {installation.installation_id}")
    print(f"deployment_id: {installation.deployment_id}")
    print(f"root_fingerprint: {installation.root_fingerprint}")
