from audit.management.passthrough import PassthroughCommand
from execution.drills.smoke import smoke_demo_strategies_main


class Command(PassthroughCommand):
    help = (
        "Run the demo strategies through the real daemon (demo mode, loopback mTLS); writes a hashed report."
    )
    main = staticmethod(smoke_demo_strategies_main)
