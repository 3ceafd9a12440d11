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

    def put(self, key: str, mark: Mark) -> None:
        with transaction.atomic():
            WitnessMark.objects.update_or_create(key=key, defaults={"seq": mark.seq, "head": mark.head})

    def forget(self, key: str) -> None:
        WitnessMark.objects.filter(key=key).delete()


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
