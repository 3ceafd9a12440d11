from audit.management.passthrough import PassthroughCommand
from audit.runbooks.cli import render_runbooks_main


class Command(PassthroughCommand):
    help = "Render docs/runbooks/*.md from the runbook data (--check: fail when they drift)."
    main = staticmethod(render_runbooks_main)
