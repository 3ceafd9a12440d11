"""``manage.py register_bundle DIR --user NAME [--ci-run ci_run.json]``: make a bundle built elsewhere (the
packaging pipeline) known to the console's Bundles page, after it (and its CI run record) verify. One line on
failure, exit non-zero, nothing recorded."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from audit.errors import Refused
from delivery import services


class Command(BaseCommand):
    help = "Register a built, signed bundle directory on the console's Bundles page (verifies it first)."

    def add_arguments(self, parser):
        parser.add_argument("bundle_dir", type=Path)
        parser.add_argument("--user", required=True, help="the console user (role admin) registering it")
        parser.add_argument("--ci-run", type=Path, default=None, help="the pipeline run's ci_run.json")

    def handle(self, *args, bundle_dir: Path, user: str, ci_run: Path | None, **options):
        try:
            actor = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {user!r}") from None
        try:
            build = services.bundle_build_register(bundle_dir=bundle_dir, actor=actor, ci_run=ci_run)
        except Refused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"registered bundle {build.pk}: {build.platform} {build.bundle_version} {build.fingerprint}"
        )
