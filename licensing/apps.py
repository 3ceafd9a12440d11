from django.apps import AppConfig


class LicensingConfig(AppConfig):
    """Offline licenses bound to hardware fingerprints."""

    name = "licensing"
    verbose_name = "Licensing"
