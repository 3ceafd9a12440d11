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


class _ProgressBar:
    def __init__(self, stream, width: int = 30):
        self.stream, self.width = stream, width

    def __call__(self, done: int, total: int, label: str) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {label:<32}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def run_risk_simulation_lab_main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.inline:
        print("note: the pure CLI has no task queue; running inline", file=sys.stderr)
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
            progress=_ProgressBar(sys.stderr),
            config_path=args.config,
            manual_overrides=parse_manual_overrides(args.manual),
        )
    except (MarketDataError, ProfileError, ScenarioError, LabError, ReportError) as exc:
        print(f"\nrun_risk_simulation_lab: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"\nrun_risk_simulation_lab: error: cannot write report: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"verdict: {result.verdict}")
    for path in (result.json_path, result.pdf_path):
        print(path)
        print(f"sha384:{result.sha384s[path.name]}")
    return 0


if __name__ == "__main__":
    sys.exit(run_risk_simulation_lab_main())
