from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Deployments, the audit trail and the trust core's console side."""

    name = "audit"
    verbose_name = "Audit and evidence"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from . import signals  # noqa: F401 - connects the receivers

        # Every app's rules.py registers its rules (who may do what) before the first request.
        autodiscover_modules("rules")
