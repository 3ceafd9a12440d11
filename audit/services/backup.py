"""Offline reinstall: back up the installation (files + database) and restore it, verified before any write.

The pure part (archive, signed index, staging, file moves) is audit/trust/backup.py; this module adds the
console database (dumpdata / loaddata), the witness reset and the audit events.
"""

from __future__ import annotations

import io
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from audit.trust.backup import (
    DATABASE_NAME,
    BackupError,
    BackupIndex,
    apply_stage,
    stage_backup,
    write_backup,
)
from audit.trust.installation import Installation, load_installation, unlock_root, write_pin
from audit.trust.keyring import format_time
from audit.trust.witness import Mark, SealedFileStore, WitnessError, witness_for

from .trail import audit_event_record

# Rebuilt by `migrate` / post_migrate or machine-local: never carried from one database to the next.
DUMP_EXCLUDES = ("contenttypes", "auth.permission", "sessions", "admin.logentry")


def _data_dir() -> Path:
    return Path(settings.OEM_DATA_DIR).resolve()


def _witness_marks(data_dir: Path) -> dict[str, dict]:
    """The highest mark of every witnessed file, read from every place that still reads."""
    witness = witness_for(data_dir)
    keys: set[str] = set()
    for store in witness.stores:
        if isinstance(store, SealedFileStore):
            keys |= set(store._records())
    marks = {}
    for key in sorted(keys):
        present = [m for m in witness.marks(key).values() if m is not None]
        if present:
            high = max(present, key=lambda m: m.seq)
            marks[key] = {"seq": high.seq, "head": high.head}
    return marks


def _dump_database() -> bytes:
    out = io.StringIO()
    call_command(
        "dumpdata",
        *[f"--exclude={label}" for label in DUMP_EXCLUDES],
        format="xml",  # full microseconds: MACed timestamps must come back byte for byte
        natural_foreign=True,
        natural_primary=True,
        stdout=out,
    )
    return out.getvalue().encode("utf-8")


def installation_backup(*, out: Path, admin_password: str, actor: str = "") -> BackupIndex:
    """Write a signed backup of this installation to `out`; records `installation.backup`."""
    data_dir = _data_dir()
    installation = load_installation(data_dir)
    signer = unlock_root(data_dir, admin_password)
    witness = _witness_marks(data_dir)  # before the files: a file is never behind its recorded mark
    database = _dump_database()
    index = write_backup(
        Path(out),
        data_dir=data_dir,
        installation=installation,
        root_signer=signer,
        database=database,
        witness=witness,
        created_at=format_time(timezone.now()),
    )
    audit_event_record(
        action="installation.backup",
        actor=actor or None,
        object_type="installation",
        object_id=installation.installation_id,
        detail={"out": Path(out).name, "files": len(index.body["files"]), "witness_keys": len(witness)},
    )
    return index


@dataclass(frozen=True)
class RestoreResult:
    index: BackupIndex
    files: list[str]
    aside: Path
    witness_reset: list[str]


def installation_restore(
    *, archive: Path, allow_other_installation: bool = False, actor: str
) -> RestoreResult:
    """Verify `archive` completely (signature, installation, every file's SHA-384) into a stage beside the
    data dir, then load the database and move the files in, then reset the witnesses to the backup's marks
    (journaled, audited). A backup that fails any check leaves the data dir and the database untouched."""
    data_dir = _data_dir()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    staging = data_dir.parent / f".{data_dir.name}.restore-{secrets.token_hex(4)}"
    index = stage_backup(archive, staging, data_dir=data_dir, allow_other=allow_other_installation)
    aside = data_dir.parent / f"{data_dir.name}.restore-aside-{stamp}"
    try:
        with transaction.atomic():
            call_command("flush", interactive=False, verbosity=0)
            call_command("loaddata", str(staging / DATABASE_NAME), verbosity=0)
            files = apply_stage(staging, data_dir, aside)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        ContentType.objects.clear_cache()  # flush re-created the content types under new ids
    installation = Installation(
        installation_id=index.installation_id,
        deployment_id=index.body["deployment_id"],
        root_fingerprint=index.root_fingerprint,
        root_public_key=index.body["root_public_key"],
        created_at="",
        data_dir=data_dir,
    )
    write_pin(installation)  # restore is the one documented way to re-pin
    reset = _reset_witnesses(
        data_dir, index, aside, reason=f"restore_installation {Path(archive).name}", actor=actor
    )
    load_installation(data_dir)  # every pin agrees again, or this fails loudly
    audit_event_record(
        action="installation.restore",
        actor=actor or None,
        object_type="installation",
        object_id=index.installation_id,
        detail={
            "archive": Path(archive).name,
            "backup_created_at": index.body["created_at"],
            "files": len(files),
            "aside": aside.name,
            "witness_reset": reset,
        },
    )
    return RestoreResult(index, files, aside, reset)


def _reset_witnesses(
    data_dir: Path, index: BackupIndex, aside: Path, *, reason: str, actor: str
) -> list[str]:
    """Set every witnessed file back to the backup's mark (or drop marks the backup did not have). A sealed
    place that no longer reads for this installation (a copy from the installation replaced by
    --allow-other-installation) is moved aside first."""
    witness = witness_for(data_dir)
    keys: set[str] = set(index.witness)
    for store in witness.stores:
        if not isinstance(store, SealedFileStore):
            continue
        try:
            keys |= set(store._records())
        except WitnessError:
            for path in (store.path, store.key_path):
                if path.exists():
                    target = aside / "witness" / store.label.replace(" ", "_") / path.name
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    shutil.move(str(path), target)
    for key in sorted(keys):
        mark = index.witness.get(key)
        witness.reset(
            key,
            None if mark is None else Mark(mark["seq"], mark["head"]),
            reason=reason,
            actor=actor or "restore_installation",
        )
    return sorted(keys)


__all__ = ["BackupError", "RestoreResult", "installation_backup", "installation_restore"]
