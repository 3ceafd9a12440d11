"""The runbook command. --inline runs in this process (the pure engine CLI); otherwise the lab is fanned
out to the workers, one job per (profile × scenario), and this command follows it to the report."""

import argparse
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from risklab.engine import cli as engine_cli
from risklab.engine.data import MarketDataError
from risklab.engine.lab import LabError, plan_tasks
from risklab.engine.profiles import ProfileError, parse_manual_overrides
from risklab.engine.scenarios import ScenarioError
from risklab.models import LabRunStatus
from risklab.selectors import lab_run_progress
from risklab.services import lab_run_start


class Command(BaseCommand):
    help = "Run Paper Labs: stress scenarios under risk profiles, JSON + PDF reports."

    def run_from_argv(self, argv):
        # The engine's parser is the one definition of the arguments, shared with scripts/.
        waiting = argparse.ArgumentParser(add_help=False)
        waiting.add_argument("--timeout", type=float, default=1800.0)
        wait_options, args = waiting.parse_known_args(argv[2:])
        options = engine_cli.build_parser().parse_args(args)
        options.timeout = wait_options.timeout
        if options.inline:
            sys.exit(engine_cli.run_risk_simulation_lab_main(args))
        try:
            self.fan_out(options)
        except CommandError as exc:
            self.stderr.write(f"run_risk_simulation_lab: error: {exc}")
            sys.exit(2)

    def fan_out(self, options) -> None:
        if options.out is not None:
            raise CommandError(
                "--out works with --inline; queued labs write to $OEM_DATA_DIR/reports/paper_labs"
            )
        try:
            plan = plan_tasks(
                profiles=options.profile,
                strategies=options.strategy,
                scenarios=options.scenario,
                data_paths=options.data,
                seed=options.seed,
                fees_bps=options.fees,
                slippage_bps=options.slippage,
                config_path=options.config,
                manual_overrides=parse_manual_overrides(options.manual),
            )
        except (MarketDataError, ProfileError, ScenarioError, LabError) as exc:
            raise CommandError(str(exc)) from None
        lab_run = lab_run_start(actor=None, plan=plan)  # run on the server: no signed-in person
        self.stderr.write(f"lab run #{lab_run.pk}: {len(plan['units'])} units queued; waiting for workers")
        deadline = time.monotonic() + options.timeout
        while True:
            lab_run.refresh_from_db()
            done = lab_run_progress(lab_run)
            bar = "#" * (done * 30 // 100)
            self.stderr.write(f"\r[{bar:<30}] {done:3d}% {lab_run.status:<10}", ending="")
            if lab_run.status in (LabRunStatus.SUCCEEDED, LabRunStatus.FAILED):
                self.stderr.write("")
                break
            if time.monotonic() > deadline:
                self.stderr.write("")
                raise CommandError(
                    f"lab run #{lab_run.pk} not finished after {options.timeout:.0f} s "
                    "(is a worker running? `make run` starts one); it stays queued"
                )
            time.sleep(0.5)
        if lab_run.status == LabRunStatus.FAILED:
            raise CommandError(f"lab run #{lab_run.pk} failed: {lab_run.error}")
        self.stdout.write(f"verdict: {lab_run.verdict}")
        for path, digest in (
            (lab_run.json_path, lab_run.json_sha384),
            (lab_run.pdf_path, lab_run.pdf_sha384),
        ):
            self.stdout.write(path)
            self.stdout.write(f"sha384:{digest}")
