"""Management commands that are the pure trust-core CLIs: same arguments as scripts/<name>.py, same exit
codes, one-line errors. Django adds nothing but the settings-resolved data directory."""

import sys

from django.core.management.base import BaseCommand


class PassthroughCommand(BaseCommand):
    main = None  # set to a `main(argv) -> int` function

    def run_from_argv(self, argv):
        sys.exit(type(self).main(argv[2:]))

    def handle(self, *args, **options):  # call_command path: no argv to pass on
        raise NotImplementedError("run this command from the command line")
