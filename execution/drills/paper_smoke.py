"""``run_paper_smoke_ci``: a paper session through the real daemon, as the paper smoke CI job runs it.

A throw-away deployment (``harness.local_daemon``: key ring, signed config copy, mTLS bundle, tokens) runs a
daemon in **paper** mode on a free loopback port (the config's HMAC signature is checked as on a paper host).
Two parts, both over mTLS with operator tokens:

1. **Strategies** — the demo strategies' replay of ``smoke.run_smoke`` with stage ``paper`` under the paper
   profile's risk limits (order-rate window lifted, as in the demo smoke): every order acknowledged, FILLED,
   and its streamed fills adding up to the daemon's filled quantity.
2. **Risk denials** — orders the pre-trade risk engine must refuse, each with its reason: an order above the
   per-order notional limit (``MAX_ORDER_NOTIONAL``), a limit price outside the price band (``PRICE_BAND``),
   and a new order while an admin has HALTED trading (``HALTED``; a cancel still passes, trading resumes).

Reports under ``<data_dir>/reports/paper_smoke/`` (``--out DIR`` to change): ``<run>.orders.jsonl`` (one line
per strategy order, then the strategy summary), ``<run>.json`` (canonical JSON: verdict, strategies, risk
denials, the orders log's SHA-384, commit) and ``<run>.md`` (the same for a person, naming the JSON's
SHA-384). ``--render-summary-markdown`` also prints the Markdown, and appends it to the CI job summary when
``$GITHUB_STEP_SUMMARY`` names a file. Exit 0 only when both parts pass.

This is the one paper smoke: the JSON report is the ``paper_smoke_report`` gate artefact, proven by
``execution.evidence`` through ``execution.drills.paper_smoke_report`` (the format and its checks).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc

from audit.trust import paths as trust_paths
from audit.trust.canonical import canonical_bytes
from audit.trust.cliutil import EXIT_FAIL, EXIT_OK, OneLineParser, UsageError
from audit.trust.cliutil import run as run_cli
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.hashing import sha384_bytes
from execution.drills.harness import Client, local_daemon, utc_stamp
from execution.drills.paper_smoke_report import CHECK, SCHEMA, report_problems
from execution.drills.smoke import SYMBOL, demo_limits, run_smoke
from execution.proto.gen import oem_daemon_v1_pb2 as pb
from risklab.engine.data import SAMPLE_DATA, load_bars

__all__ = ["report_problems", "run_paper_smoke", "run_paper_smoke_ci_main"]

OPERATOR = "paper-smoke"
ADMIN = "paper-smoke-admin"
CAPITAL = 100_000.0

Log = Callable[[str], None]


@dataclass
class PaperSmokeResult:
    json_path: Path
    md_path: Path
    orders_path: Path
    sha384: str  # of the JSON report
    passed: bool
    report: dict
    markdown: str


def default_out_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "reports" / "paper_smoke"


def source_commit() -> str | None:
    """The commit under test: the CI's (``CI_COMMIT``, ``GITHUB_SHA``), else the checkout's, else unknown."""
    for name in ("CI_COMMIT", "GITHUB_SHA"):
        value = os.environ.get(name, "").strip().lower()
        if len(value) == 40 and all(c in "0123456789abcdef" for c in value):
            return value
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=trust_paths.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if len(out) == 40 else None


def _order(client: Client, cid: str, qty: float, *, limit: float = 0.0) -> pb.OrderReply:
    return client.stub.SubmitOrder(
        pb.SubmitOrderRequest(
            client_order_id=cid,
            symbol=SYMBOL,
            side="buy",
            qty=qty,
            order_type="limit" if limit else "market",
            limit_price=limit,
            stage="paper",
        ),
        metadata=client.metadata,
        timeout=10,
    )


def _denial(probe: str, expected: str, reply: pb.OrderReply) -> dict:
    return {
        "probe": probe,
        "expected": expected,
        "accepted": reply.accepted,
        "reason": reply.reason,
        "message": reply.message,
        "passed": (not reply.accepted) and reply.reason == expected,
    }


def risk_denials(operator: Client, admin: Client, *, price: float, limits, run: str) -> list[dict]:
    """The three orders the risk engine must refuse; trading is ACTIVE again afterwards."""
    results = []
    too_big = 2.0 * limits.max_order_notional / price
    results.append(
        _denial(
            "order above the per-order notional limit",
            "MAX_ORDER_NOTIONAL",
            _order(operator, f"{run}-notional", too_big),
        )
    )
    outside = price * (1.0 - 3.0 * limits.price_band_bps * 1e-4)
    results.append(
        _denial(
            "limit price outside the price band",
            "PRICE_BAND",
            _order(operator, f"{run}-band", 0.01, limit=outside),
        )
    )
    admin.stub.SetTradingState(
        pb.SetTradingStateRequest(state=pb.TRADING_STATE_HALTED, reason="paper smoke: halt drill"),
        metadata=admin.metadata,
        timeout=10,
    )
    try:
        results.append(_denial("new order while HALTED", "HALTED", _order(operator, f"{run}-halted", 0.01)))
    finally:
        resumed = admin.stub.SetTradingState(
            pb.SetTradingStateRequest(state=pb.TRADING_STATE_ACTIVE, reason="paper smoke: resume"),
            metadata=admin.metadata,
            timeout=10,
        )
    results[-1]["passed"] = results[-1]["passed"] and resumed.state == pb.TRADING_STATE_ACTIVE
    return results


def render_markdown(report: dict, json_name: str, json_sha384: str) -> str:
    s = report["strategies"]
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines = [
        f"# Paper smoke {report['run']}: {verdict}",
        "",
        f"- commit: `{report['commit'] or 'unknown'}`",
        f"- daemon: {report['daemon']['label']} (mode {report['daemon']['mode']})",
        f"- started {report['started']}, finished {report['finished']}",
        f"- report: `{json_name}` sha384:{json_sha384}",
        f"- orders log: `{report['orders_log']['path']}` {report['orders_log']['sha384']}",
        "",
        "## Strategies (stage paper)",
        "",
        f"{s['orders']} order(s): {s['acknowledged']} acknowledged, {s['filled']} filled, "
        f"{s['accounted']} accounted for, {s['stream_fills']} streamed fill(s), "
        f"{s['duplicate_fills']} duplicate(s) — {'passed' if s['passed'] else 'FAILED'}",
        "",
        "| strategy | orders | final position |",
        "|---|---|---|",
    ]
    for name, row in sorted(s["per_strategy"].items()):
        lines.append(f"| {name} | {row['orders']} | {row['final_position']:g} |")
    lines += ["", "## Risk denials", "", "| probe | expected | got | result |", "|---|---|---|---|"]
    for d in report["risk_denials"]:
        got = "accepted" if d["accepted"] else d["reason"] or "-"
        lines.append(f"| {d['probe']} | {d['expected']} | {got} | {'passed' if d['passed'] else 'FAILED'} |")
    if report["errors"]:
        lines += ["", "## Errors", ""] + [f"- {e}" for e in report["errors"]]
    return "\n".join(lines) + "\n"


def run_paper_smoke(
    *,
    data_dir: Path,
    out_dir: Path | None = None,
    cycles: int = 24,
    keep: bool = False,
    log: Log | None = None,
    config: bytes | None = None,
) -> PaperSmokeResult:
    """``config``: the bytes of the config the paper daemon runs (default config/core.yaml, copied byte for
    byte: the report binds the hash of what the daemon ran)."""
    log = log or (lambda msg: None)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(data_dir)
    started = datetime.now(UTC)
    run = f"paper_smoke_{utc_stamp(started)}"
    n = 1
    while (out_dir / f"{run}.json").exists():
        n += 1
        run = f"paper_smoke_{utc_stamp(started)}-{n}"
    bars = load_bars(SAMPLE_DATA)
    start_bar = 500
    price = float(bars.close[start_bar])
    limits = demo_limits(config or trust_paths.DEFAULT_CONFIG_PATH, CAPITAL, stage="paper")
    errors: list[str] = []
    with local_daemon(
        data_dir,
        "paper_smoke",
        mode="paper",
        operators=(OPERATOR, ADMIN),
        config=config,
        keep=keep,
        risk_limits=limits,
        prices={SYMBOL: price},
        tick_s=0.2,
    ) as local:
        operator = local.client(OPERATOR, ["operator"])
        admin = local.client(ADMIN, ["admin"])
        label = f"in-process paper 127.0.0.1:{local.daemon.port}"
        try:
            smoke = run_smoke(
                operator,
                cycles=cycles,
                report_dir=out_dir,
                daemon_label=label,
                start_bar=start_bar,
                stage="paper",
                report_name=f"{run}.orders",
                log=log,
            )
            try:
                denials = risk_denials(
                    operator, admin, price=price, limits=limits, run=f"ps-{secrets.token_hex(4)}"
                )
            except grpc.RpcError as exc:
                denials = []
                errors.append(f"risk denials: {exc.code().name}: {exc.details()}")
            status = admin.stub.GetStatus(pb.GetStatusRequest(), metadata=admin.metadata, timeout=5)
        finally:
            operator.close()
            admin.close()
    summary = smoke.summary
    passed = bool(smoke.passed and len(denials) == 3 and all(d["passed"] for d in denials) and not errors)
    report = {
        "schema": SCHEMA,
        "check": CHECK,
        "run": run,
        "passed": passed,
        "commit": source_commit(),
        "daemon": {"label": label, "mode": status.mode},
        "config_sha384": status.config_sha384,  # the config the daemon ran: binds the report to it
        "strategies": {
            k: summary[k]
            for k in (
                "passed",
                "orders",
                "acknowledged",
                "filled",
                "rejected",
                "accounted",
                "stream_fills",
                "duplicate_fills",
                "per_strategy",
                "cycles",
                "data",
                "errors",
            )
        },
        "risk_denials": denials,
        "risk_limits": {
            "max_order_notional": limits.max_order_notional,
            "max_position_notional": limits.max_position_notional,
            "price_band_bps": limits.price_band_bps,
        },
        "orders_log": {"path": smoke.path.name, "sha384": f"sha384:{smoke.sha384}"},
        "errors": errors,
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
    }
    data = canonical_bytes(report)
    digest = sha384_bytes(data)
    json_path, md_path = out_dir / f"{run}.json", out_dir / f"{run}.md"
    markdown = render_markdown(report, json_path.name, digest)
    atomic_write_bytes(json_path, data)
    atomic_write_bytes(md_path, markdown.encode())
    log(f"paper smoke {'passed' if passed else 'FAILED'}: {json_path}")
    return PaperSmokeResult(json_path, md_path, smoke.path, digest, passed, report, markdown)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog="run_paper_smoke_ci", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $OEM_DATA_DIR (./var)")
    parser.add_argument("--out", type=Path, default=None, help="default: <data-dir>/reports/paper_smoke")
    parser.add_argument("--cycles", type=int, default=24, help="strategy decisions (default 24)")
    parser.add_argument("--render-summary-markdown", action="store_true", help="print the Markdown summary")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away deployment")
    return parser


def _action(args) -> int:
    if not 1 <= args.cycles <= 200:
        raise UsageError(f"run_paper_smoke_ci: --cycles must be between 1 and 200, got {args.cycles}")
    data_dir = (args.data_dir or trust_paths.data_dir()).resolve()
    try:
        result = run_paper_smoke(
            data_dir=data_dir, out_dir=args.out, cycles=args.cycles, keep=args.keep, log=lambda m: print(m)
        )
    except grpc.RpcError as exc:
        raise ValueError(f"daemon: {exc.code().name}: {exc.details()}") from None
    if args.render_summary_markdown:
        print(result.markdown, end="")
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_file:
            with open(summary_file, "a", encoding="utf-8") as handle:
                handle.write(result.markdown)
    for path in (result.json_path, result.md_path):
        print(path)
    print(f"sha384:{result.sha384}")
    if not result.passed:
        failed = [d["expected"] for d in result.report["risk_denials"] if not d["passed"]]
        why = "strategy orders not all accounted for" if not result.report["strategies"]["passed"] else ""
        why = "; ".join(filter(None, [why, *(f"{r} not denied" for r in failed), *result.report["errors"]]))
        print(f"error: paper smoke FAILED: {why or 'see the report'}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def run_paper_smoke_ci_main(argv: Sequence[str] | None = None) -> int:
    return run_cli(_parser(), argv, _action)
