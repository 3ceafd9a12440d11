from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    """The gRPC daemon, routing and venues."""

    name = "execution"
    verbose_name = "Live execution"

    def ready(self) -> None:
        from jobs.registry import register

        from . import services

        register(services.SMOKE_KIND, "Smoke: demo strategies through the daemon", services.smoke_demo_job)
        register(services.DRY_RUN_KIND, "Live execution dry run (fault injection)", services.live_dry_run_job)
