"""``run_oem_acceptance --bundle DIR --json OUT [--rebuild] [--allow-virtual] [--sections ...]``.

Runs the sections in order (bundle, license, paper_labs, mtls; ``--sections`` to choose) and writes the report
as canonical JSON to OUT. A bundle that does not verify still gets a report (its other sections run against
the checkout's code, and the report says so). Prints one line per section, the report path and its
``sha384:``; exit 0 only when no section failed, 1 when one did (one ``error:`` line naming them), 2 on bad
arguments (nothing written).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.trust.cliutil import EXIT_FAIL, EXIT_OK, OneLineParser, UsageError
from audit.trust.cliutil import run as run_cli
from delivery.acceptance import sections as run
from delivery.acceptance.report import SECTIONS, Section, build_report, write_report

Log = Callable[[str], None]


@dataclass
class AcceptanceResult:
    path: Path
    sha384: str
    report: dict

    @property
    def passed(self) -> bool:
        return self.report["passed"]


def _host_platform() -> str | None:
    from deploy.packaging.bootstrap.install import host_platform_name

    return host_platform_name()


def _crashed(name: str, exc: Exception) -> Section:
    section = Section(name)
    section.failed("run", f"{type(exc).__name__}: {exc}")
    return section


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_acceptance(
    *,
    bundle_dir: Path,
    out: Path,
    rebuild: bool = False,
    allow_virtual: bool = False,
    sections: Sequence[str] = SECTIONS,
    log: Log | None = None,
) -> AcceptanceResult:
    log = log or (lambda msg: None)
    bundle_dir = Path(bundle_dir).resolve()
    started = _now()
    done = []
    info = {"path": str(bundle_dir), "fingerprint": None, "commit": None, "version": None, "platform": None}
    if "bundle" in sections:
        try:
            section, info = run.bundle_section(bundle_dir, rebuild=rebuild)
        except Exception as exc:  # a crash is the section's outcome, recorded, never a missing report
            section = _crashed("bundle", exc)
        done.append(section)
    app, note = run.app_root(bundle_dir)
    config = run.bundle_config(bundle_dir)
    work = Path(tempfile.mkdtemp(prefix="oem-acceptance-"))
    steps = {
        "license": lambda: run.license_section(app, work, allow_virtual=allow_virtual),
        "paper_labs": lambda: run.paper_labs_section(app, work, config),
        "mtls": lambda: run.mtls_section(app, work, config),
    }
    try:
        for name, step in steps.items():
            if name not in sections:
                continue
            try:
                done.append(step())
            except Exception as exc:
                done.append(_crashed(name, exc))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    notes = [note] if note else []
    host = _host_platform()
    if info.get("platform") and info["platform"] != host:
        # The bundle's code is pure Python; what cannot be exercised here is its platform's wheels and OS.
        notes.append(
            f"a {info['platform']} bundle: its code ran on {host or 'this machine'} with local wheels"
        )
    for section in done:
        if section.name != "bundle":
            section.notes.extend(notes)
    for section in done:
        log(f"{section.name}: {section.status}")
    report = build_report(
        bundle=info,
        sections=done,
        started=started,
        finished=_now(),
        options={"rebuild": rebuild, "allow_virtual": allow_virtual, "sections": list(sections)},
    )
    digest = write_report(out, report)
    return AcceptanceResult(Path(out), digest, report)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="run_oem_acceptance", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bundle", type=Path, required=True, help="the bundle directory (with manifest.json)"
    )
    parser.add_argument("--json", type=Path, required=True, help="where to write the report")
    parser.add_argument("--rebuild", action="store_true", help="also build again and compare the fingerprint")
    parser.add_argument(
        "--allow-virtual", action="store_true", help="license this device even if it is a VM or container"
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}"
    )
    return parser


def _action(args) -> int:
    wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown or not wanted:
        raise UsageError(f"run_oem_acceptance: --sections: unknown {', '.join(unknown) or '(none given)'}")
    if not args.bundle.is_dir():
        raise UsageError(f"run_oem_acceptance: --bundle {args.bundle} is not a directory")
    if args.json.exists() and args.json.is_dir():
        raise UsageError(f"run_oem_acceptance: --json {args.json} is a directory")
    result = run_acceptance(
        bundle_dir=args.bundle,
        out=args.json,
        rebuild=args.rebuild,
        allow_virtual=args.allow_virtual,
        sections=[s for s in SECTIONS if s in wanted],
        log=print,
    )
    print(result.path)
    print(result.sha384)
    if not result.passed:
        failed = [s for s in result.report["sections"] if s["status"] == "failed"]
        why = "; ".join(
            f"{s['name']}: "
            + next(f"{c['name']}: {c['detail']}" for c in s["checks"] if c["status"] == "failed")
            if any(c["status"] == "failed" for c in s["checks"])
            else f"{s['name']}: no check ran"
            for s in failed
        )
        print(f"error: acceptance FAILED: {why}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def run_oem_acceptance_main(argv: Sequence[str] | None = None) -> int:
    return run_cli(_parser(), argv, _action)
