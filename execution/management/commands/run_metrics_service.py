from audit.management.passthrough import PassthroughCommand
from execution.drills.metrics_service import run_metrics_service_main


class Command(PassthroughCommand):
    help = "Serve the daemon's Prometheus metrics on loopback and append JSONL snapshots."
    main = staticmethod(run_metrics_service_main)
