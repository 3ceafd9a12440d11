from audit.management.passthrough import PassthroughCommand
from execution.drills.paper_smoke import run_paper_smoke_ci_main


class Command(PassthroughCommand):
    help = "A paper session through the real daemon (strategies, fills, risk denials); JSON + Markdown."
    main = staticmethod(run_paper_smoke_ci_main)
