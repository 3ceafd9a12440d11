from django.apps import AppConfig


class RisklabConfig(AppConfig):
    """Stress scenarios under risk profiles."""

    name = "risklab"
    verbose_name = "Paper Labs"
