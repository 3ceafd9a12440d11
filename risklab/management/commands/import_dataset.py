from django.core.management.base import BaseCommand, CommandError

from risklab.engine.data import MarketDataError
from risklab.services import dataset_register


class Command(BaseCommand):
    help = (
        "Validate a Parquet OHLCV file and register it as a Paper Labs dataset (path, SHA-384, rows, span)."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")

    def handle(self, *args, **options):
        for path in options["paths"]:
            try:
                dataset = dataset_register(actor=None, path=path)  # run on the server: no signed-in person
            except MarketDataError as exc:
                raise CommandError(str(exc)) from None
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror or exc}") from None
            self.stdout.write(
                f"{dataset.name}: {dataset.rows} rows {dataset.first_timestamp:%Y-%m-%d %H:%M} → "
                f"{dataset.last_timestamp:%Y-%m-%d %H:%M} UTC sha384:{dataset.sha384}"
            )
