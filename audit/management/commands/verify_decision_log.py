from audit.management.passthrough import PassthroughCommand
from audit.trust.cli import verify_decision_log_main


class Command(PassthroughCommand):
    help = "Verify the decision logs strictly, or append a signed entry (update)."
    main = staticmethod(verify_decision_log_main)
