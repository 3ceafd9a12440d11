from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    """The gRPC daemon, routing and venues."""

    name = "execution"
    verbose_name = "Live execution"
