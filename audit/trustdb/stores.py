"""The database side of the pure trust core's pins and witnesses, for the console's own data dir only."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from audit.trust.installation import Installation
from audit.trust.witness import Mark, WitnessError

from .models import InstallationPin, WitnessMark


def _serves(data_dir: Path) -> bool:
    """This database is a witness place for the console's own data dir, once migrated (before `migrate`
    nothing can have been pinned or marked in it)."""
    if Path(data_dir).resolve() != Path(settings.OEM_DATA_DIR).resolve():
        return False
    try:
        return WitnessMark._meta.db_table in connection.introspection.table_names()
    except DatabaseError:
        return True  # the database is down: the store reports it (fail closed), never skipped


def database_pin(installation: Installation) -> str | None:
    """The pinned root for this installation; a pin of another installation id is returned too (any
    pin row at all means this console was set up, and a different installation is refused)."""
    if not _serves(installation.data_dir):
        return None
    try:
        pins = list(InstallationPin.objects.all()[:2])
    except DatabaseError as exc:
        return f"unavailable database ({str(exc).splitlines()[0][:80]})"  # refuses: cannot check the pin
    for pin in pins:
        if pin.installation_id == installation.installation_id:
            return pin.root_fingerprint
    return f"installation {pins[0].installation_id}" if pins else None


def pin_installation(installation: Installation) -> InstallationPin:
    pin, _ = InstallationPin.objects.get_or_create(
        installation_id=installation.installation_id,
        defaults={"root_fingerprint": installation.root_fingerprint},
    )
    return pin


class DatabaseWitnessStore:
    label = "console database"
    # A console database restored or re-created on its own is adopted (marks re-learnt from the sealed
    # places); losing the sealed places while the database holds a mark is still refused.
    required = False

    def get(self, key: str) -> Mark | None:
        try:
            row = WitnessMark.objects.filter(key=key).first()
        except DatabaseError as exc:
            raise WitnessError(f"witness database unavailable: {str(exc).splitlines()[0][:120]}") from None
        return None if row is None else Mark(int(row.seq), row.head)

    def put(self, key: str, mark: Mark, *, force: bool = False) -> None:
        try:
            with transaction.atomic():
                row = WitnessMark.objects.select_for_update().filter(key=key).first()
                if row is None:
                    WitnessMark.objects.create(key=key, seq=mark.seq, head=mark.head)
                elif force or row.seq <= mark.seq:  # a later mark a concurrent writer recorded stays
                    row.seq, row.head = mark.seq, mark.head
                    row.save(update_fields=["seq", "head", "updated_at"])
        except DatabaseError as exc:
            raise WitnessError(f"witness database unavailable: {str(exc).splitlines()[0][:120]}") from None

    def forget(self, key: str) -> None:
        try:
            WitnessMark.objects.filter(key=key).delete()
        except DatabaseError as exc:
            raise WitnessError(f"witness database unavailable: {str(exc).splitlines()[0][:120]}") from None


def database_store(data_dir: Path) -> DatabaseWitnessStore | None:
    return DatabaseWitnessStore() if _serves(data_dir) else None


def record_reset(record: dict) -> None:
    """A reset of the console's own witness is an audit event; resets of other data dirs are not ours."""
    from audit.services import audit_event_record

    if record.get("data_dir") is None or not _serves(Path(record["data_dir"])):
        return

    audit_event_record(
        action="witness.reset",
        actor=None,
        object_type="witness",
        object_id=str(record.get("key", ""))[:80],
        detail=record,
    )
