from django.apps import AppConfig


class TrustDbConfig(AppConfig):
    """Registers the database with the pure trust core: a pin source for the installation root and a
    witness store (plus a reset hook that records an audit event) for the console's own data dir."""

    name = "audit.trustdb"
    label = "trustdb"
    verbose_name = "Trust pins and witness marks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit.trust.installation import register_pin_source
        from audit.trust.witness import register_reset_hook, register_store

        from .stores import database_pin, database_store, record_reset

        register_pin_source("console database", database_pin)
        register_store("console database", database_store)
        register_reset_hook("console audit trail", record_reset)
