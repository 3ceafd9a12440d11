from audit.management.passthrough import PassthroughCommand
from execution.drills.dry_run import live_execution_dry_run_main


class Command(PassthroughCommand):
    help = "Scripted daemon session with injected venue faults; every order accounted for exactly once."
    main = staticmethod(live_execution_dry_run_main)
