"""``run_risk_simulation_lab``: the Paper Labs command without Django.

Only inline execution exists here; the console's management command wraps the same plan/unit/assemble
functions with one Celery task per unit. Failures print one line and exit non-zero with no report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from risklab.engine.data import MarketDataError
from risklab.engine.lab import LabError, default_out_dir, run_lab
from risklab.engine.profiles import PROFILE_NAMES, ProfileError, parse_manual_overrides
from risklab.engine.report_json import ReportError
from risklab.engine.scenarios import SCENARIOS, ScenarioError
from risklab.engine.strategies import STRATEGIES

EXIT_FAILURE = 2


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's default prints the whole usage block first
        self.exit(EXIT_FAILURE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="run_risk_simulation_lab",
        description="Run Paper Labs stress scenarios under risk profiles and write JSON + PDF reports.",
    )
    parser.add_argument("--profile", choices=[*PROFILE_NAMES, "all"], default="all")
    parser.add_argument("--strategy", default="all", help=f"one of {', '.join(STRATEGIES)} or all")
    parser.add_argument("--scenario", default="all", help=f"one of {', '.join(SCENARIOS)} or all")
    parser.add_argument(
        "--data", nargs="+", type=Path, help="OHLCV Parquet file(s); default: the bundled sample"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fees", type=float, help="fees in bps for every profile (overrides config)")
    parser.add_argument(
        "--slippage", type=float, help="base slippage in bps for every profile (overrides config)"
    )
    parser.add_argument("--out", type=Path, help="report directory; default $OEM_DATA_DIR/reports/paper_labs")
    parser.add_argument("--inline", action="store_true", help="run every unit in this process")
    parser.add_argument(
        "--config", type=Path, help="config file with risk_profiles (default config/core.yaml)"
    )
    parser.add_argument("--manual", nargs="+", metavar="KEY=VALUE", help="limits for the manual profile")
    return parser


class _PlainProgress:
    """One line per finished unit: what a log file or a pipe wants."""

    def __init__(self, stream):
        self.stream = stream

    def __call__(self, done: int, total: int, label: str) -> None:
        self.stream.write(f"progress: {done}/{total} {label}\n")
        self.stream.flush()


class _RichProgress:
    """A live bar on a terminal (rich); closed when the last unit is done."""

    def __init__(self, stream):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("Paper Labs"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=Console(file=stream),
            transient=False,
        )
        self.task = None

    def __call__(self, done: int, total: int, label: str) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(label, total=total)
        self.progress.update(self.task, completed=done, description=label)
        if done >= total:
            self.progress.stop()

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


def progress_for(stream):
    """A rich progress bar when ``stream`` is a terminal, plain lines otherwise."""
    isatty = getattr(stream, "isatty", None)
    return _RichProgress(stream) if isatty is not None and isatty() else _PlainProgress(stream)


def _close(progress) -> None:
    close = getattr(progress, "close", None)
    if close is not None:
        close()


def run_risk_simulation_lab_main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.inline:
        print("note: the pure CLI has no task queue; running inline", file=sys.stderr)
    progress = progress_for(sys.stderr)
    try:
        result = run_lab(
            profiles=args.profile,
            strategies=args.strategy,
            scenarios=args.scenario,
            data_paths=args.data,
            seed=args.seed,
            fees_bps=args.fees,
            slippage_bps=args.slippage,
            out_dir=args.out if args.out is not None else default_out_dir(),
            progress=progress,
            config_path=args.config,
            manual_overrides=parse_manual_overrides(args.manual),
        )
    except (MarketDataError, ProfileError, ScenarioError, LabError, ReportError) as exc:
        _close(progress)
        print(f"\nrun_risk_simulation_lab: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        _close(progress)
        print(f"\nrun_risk_simulation_lab: error: cannot write report: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"verdict: {result.verdict}")
    for path in (result.json_path, result.pdf_path):
        print(path)
        print(f"sha384:{result.sha384s[path.name]}")
    return 0


if __name__ == "__main__":
    sys.exit(run_risk_simulation_lab_main())
