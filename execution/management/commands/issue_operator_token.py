from audit.management.passthrough import PassthroughCommand
from execution.tokens import issue_operator_token_main


class Command(PassthroughCommand):
    help = "Issue an HMAC-SHA384 operator token bound to a client certificate."
    main = staticmethod(issue_operator_token_main)
