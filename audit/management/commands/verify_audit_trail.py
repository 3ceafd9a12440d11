from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.services.trail_check import audit_trail_full_check


class Command(BaseCommand):
    help = (
        "Re-check the whole audit trail (recorded as its last full re-check): every event's "
        "MAC (or hash, before the keyed chain) and link, the stored "
        "head and the witness; with --export FILE, check an exported JSONL and its signed head instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--export", default=None, help="an audit_trail.jsonl downloaded from /audit/")

    def handle(self, *args, **options):
        if options["export"]:
            return self._export(options["export"])
        status = audit_trail_full_check()  # recorded: /audit/ shows this verdict and its time
        for problem in status.problems:
            self.stderr.write(problem)
        if status.problems:
            raise CommandError(f"audit trail broken in {len(status.problems)} place(s)")
        self.stdout.write(
            f"audit trail intact: {status.count} events ({status.keyed} keyed), head at event {status.head}"
        )

    def _export(self, path: str) -> None:
        from audit.chain import ExportError, verify_export
        from audit.trust.fsutil import MAX_LOG_FILE, read_regular_file
        from audit.trust.installation import InstallationError, load_installation
        from audit.trust.keyring import KeyRing, KeyRingError

        try:
            data = read_regular_file(path, max_bytes=MAX_LOG_FILE, what="export")
            installation = load_installation(settings.OEM_DATA_DIR)
            keyring = KeyRing.load(settings.OEM_DATA_DIR)
            result = verify_export(data, keyring, installation_id=installation.installation_id)
        except (ExportError, InstallationError, KeyRingError, OSError) as exc:
            raise CommandError(f"{path}: {' '.join(str(exc).split())}") from None
        scope = "filtered" if result.filtered else "complete"
        self.stdout.write(
            f"export intact ({scope}): {result.count} events, signed at trail head {result.trail_head[0]}"
        )
