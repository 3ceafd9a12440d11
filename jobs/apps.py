from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Durable background jobs: the database row is the queue, the broker only wakes workers."""

    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from .kinds import register_builtin_kinds

        register_builtin_kinds()
