from django.apps import AppConfig


class OemconsoleConfig(AppConfig):
    """Roles, dashboard and metrics of the web console."""

    name = "oemconsole"
    verbose_name = "Console"
