from audit.management.passthrough import PassthroughCommand
from audit.trust.cli import sign_config_main


class Command(PassthroughCommand):
    help = "Sign config/core.yaml (and .env) with the current HMAC config key."
    main = staticmethod(sign_config_main)
