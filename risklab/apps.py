from django.apps import AppConfig


class RisklabConfig(AppConfig):
    """Stress scenarios under risk profiles."""

    name = "risklab"
    verbose_name = "Paper Labs"

    def ready(self) -> None:
        from jobs.registry import register, register_sweep_hook

        from . import services

        register(
            services.UNIT_KIND,
            "Paper Labs unit (profile × scenario)",
            services.run_unit_job,
            on_finish=services.on_unit_finished,
        )
        register(
            services.ASSEMBLE_KIND,
            "Paper Labs report assembly",
            services.assemble_job,
            on_finish=services.on_assemble_finished,
        )
        register_sweep_hook(services.lab_run_sweep)
