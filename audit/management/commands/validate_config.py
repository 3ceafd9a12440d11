from audit.management.passthrough import PassthroughCommand
from audit.trust.cli import validate_config_main


class Command(PassthroughCommand):
    help = "Validate config/core.yaml for a profile and check its HMAC signature."
    main = staticmethod(validate_config_main)
