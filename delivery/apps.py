from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    """Bundle builds, their acceptance reports, and their use as gate evidence."""

    name = "delivery"
    verbose_name = "Delivery"

    def ready(self) -> None:
        from jobs.registry import register

        from . import tasks

        register(tasks.BUILD_KIND, "Build and sign an OEM bundle", tasks.bundle_build_job)
        register(tasks.ACCEPTANCE_KIND, "OEM acceptance of a bundle", tasks.bundle_acceptance_job)
