from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Deployments, the audit trail and the trust core's console side."""

    name = "audit"
    verbose_name = "Audit and evidence"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
