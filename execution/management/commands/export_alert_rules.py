from audit.management.passthrough import PassthroughCommand
from execution.alert_rules import export_alert_rules_main


class Command(PassthroughCommand):
    help = "Write the Prometheus alerting rules defined in config/core.yaml to a rules file promtool accepts."
    main = staticmethod(export_alert_rules_main)
