"""``python -m desktop_qml.check --out DIR``: the desktop client, headless, against a throwaway daemon.

What it does (docs/desktop.md "Headless check"), in one process:

1. starts a throwaway paper daemon over loopback mTLS in its own process (``desktop_qml.rig``, around
   ``execution.drills.harness.local_daemon``: its own key ring, signed config copy, certificates, tokens;
   removed afterwards) and a throwaway data directory for the client (license request, license, settings);
2. launches the real client (``DesktopApp``, the QML views, the UI guard) on ``QT_QPA_PLATFORM=offscreen``
   unless a platform is already set (e.g. ``xvfb-run`` with ``QT_QPA_PLATFORM=xcb``), connects with an
   operator + admin profile;
3. drives the real models the buttons call: submits a market order, rests a limit order and cancels it,
   fires the kill switch (HALTED) and resumes, activates a license from a file (request -> license signed
   with the development vendor key -> import, on a synthetic device tree: see ``synthetic_device``),
   switches reduce motion on and checks every animation of the client's QML stopped;
4. streams fills at load (``--fill-rate`` orders a second for ``--load-seconds``, from a generator process)
   with the dashboard shown;
5. walks every screen and writes ``screens/<n>-<screen>.png``;
6. writes the UI guard's ``ui_telemetry_alerts.jsonl`` (the ``ui_telemetry_log`` evidence, checked with the
   same verifier the live gate runs) and ``summary.json``: frames, p95 frame time, jank %, each step,
   pass/fail.

Exit 0 when everything passed, 1 when something failed (the summary says what), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SUMMARY_SCHEMA = "oem/ui-check-summary/v1"
SYMBOL = "ETH/BTC"
REFERENCE_PRICE = 0.05


@dataclass
class Step:
    name: str
    ok: bool
    detail: str


@dataclass
class FrameLog:
    """Every frame of the run (the guard's window keeps only the last few seconds)."""

    frames: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, swap_s: float, frame_ms: float) -> None:
        with self._lock:
            self.frames.append((swap_s, frame_ms))

    def between(self, start_s: float, end_s: float) -> list[float]:
        with self._lock:
            return [ms for t, ms in self.frames if start_s <= t <= end_s]


def frame_summary(frame_ms: list[float], span_s: float, jank_limit_ms: float) -> dict:
    from desktop_qml.guard.stats import percentile

    n = len(frame_ms)
    jank = sum(1 for ms in frame_ms if ms > jank_limit_ms)
    return {
        "frames": n,
        "seconds": round(span_s, 3),
        "fps": round(n / span_s, 2) if span_s > 0 else 0.0,
        "p50_frame_ms": round(percentile(frame_ms, 50.0), 3),
        "p95_frame_ms": round(percentile(frame_ms, 95.0), 3),
        "max_frame_ms": round(max(frame_ms, default=0.0), 3),
        "jank_percent": round(100.0 * jank / n, 3) if n else 0.0,
        "jank_frames": jank,
        "jank_limit_ms": round(jank_limit_ms, 3),
    }


class Scenario:
    """A throwaway daemon + the real client connected to it (shared by the check and bench/ui_frames.py)."""

    def __init__(
        self,
        work: Path,
        *,
        log_path: Path,
        window_s: float | None = None,
        evaluate_every_ms: int = 1000,
    ) -> None:
        self.work = Path(work)
        self.log_path = Path(log_path)
        self.window_s = window_s
        self.evaluate_every_ms = evaluate_every_ms
        self.daemon = None
        self.app = None
        self.guard = None
        self.frames = FrameLog()

    def __enter__(self) -> Scenario:
        from PySide6.QtCore import QSettings

        from desktop_qml.app import DesktopApp
        from desktop_qml.guard import install
        from desktop_qml.guard.alerts import Thresholds, load_thresholds
        from desktop_qml.profile import build_profile
        from desktop_qml.rig import DaemonProcess

        self.daemon = DaemonProcess(self.work / "daemon").__enter__()
        info = self.daemon.info
        self.profile = build_profile(
            target=self.daemon.target,
            ca_pem=info["ca"],
            cert_pem=info["cert"],
            key_pem=info["key"],
            token=info["client_token"],
        )
        thresholds = load_thresholds()
        if self.window_s is not None:
            thresholds = Thresholds(
                thresholds.p95_frame_ms, thresholds.jank_percent, self.window_s, thresholds.min_frames
            )
        settings = QSettings(str(self.work / "settings.ini"), QSettings.Format.IniFormat)
        self.app = DesktopApp(install_guard=False)
        self.guard = install(
            self.app,
            thresholds=thresholds,
            log_path=self.log_path,
            settings=settings,
            evaluate_every_ms=self.evaluate_every_ms,
        )
        self.guard.frame_listeners.append(self.frames)
        self.app.load()
        return self

    def pump(self, seconds: float) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(max(0, int(seconds * 1000)), loop.quit)
        loop.exec()

    def wait(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.pump(0.05)
        return predicate()

    def connect(self, timeout_s: float = 20.0) -> bool:
        connection = self.app.backend.connection
        connection.use_profile(self.profile, "ui-check")
        return self.wait(lambda: connection.value("state") == "connected", timeout_s)

    def __exit__(self, *exc) -> None:
        if self.guard is not None:
            self.guard.detach()
            self.guard.reporter.close(2.0)
        if self.app is not None:
            self.app.close()
        if self.daemon is not None:
            self.daemon.__exit__(*exc)


# -- the steps ---------------------------------------------------------------------------------------------
def _animations(root) -> list:
    """The animations and behaviours the client's own QML declares. The controls' built-in ones (a switch
    handle sliding under the operator's finger) answer a gesture and do not move by themselves."""
    from PySide6.QtCore import QObject
    from PySide6.QtQml import QQmlEngine

    from desktop_qml.app import QML_DIR

    found = []
    for obj in [root, *root.findChildren(QObject)]:
        name = obj.metaObject().className()
        if "Animation" not in name and "Behavior" not in name:
            continue
        context = QQmlEngine.contextForObject(obj)
        source = context.baseUrl().toLocalFile() if context is not None else ""
        if source and Path(source).resolve().is_relative_to(QML_DIR):
            found.append(obj)
    return found


def check_reduce_motion(sc: Scenario) -> Step:
    guard = sc.guard
    before = guard.reduceMotion
    guard.setProperty("reduceMotion", True)
    sc.pump(0.3)
    moving = []
    for obj in _animations(sc.app.window):
        name = obj.metaObject().className()
        if "Behavior" in name and obj.property("enabled"):
            moving.append(f"{name} {obj.objectName() or '?'} still enabled")
        elif "Behavior" not in name and obj.property("running") and obj.parent() is not None:
            if "Behavior" not in obj.parent().metaObject().className():
                moving.append(f"{name} {obj.objectName() or '?'} still running")
    count = len(_animations(sc.app.window))
    guard.setProperty("reduceMotion", before)
    if moving:
        return Step("reduce motion", False, "; ".join(moving[:5]))
    return Step("reduce motion", True, f"{count} animations/behaviours in the scene, none moves")


def synthetic_device(root: Path) -> Path:
    """A device tree for ``OEM_FINGERPRINT_ROOT`` (honoured in development and test only): CI machines and
    containers report too few stable hardware ids to be licensed, and the check is about the client's
    activation path (request, vendor signature, registry, import), which stays real."""
    import secrets

    files = {
        "etc/machine-id": secrets.token_hex(16) + "\n",
        "proc/cpuinfo": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: UI check CPU\n",
        "proc/1/cgroup": "0::/init.scope\n",
        "proc/self/mounts": "/dev/nvme0n1p2 / ext4 rw 0 0\n",
        "sys/class/net/eno1/address": "3c:ec:ef:"
        + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
        + "\n",
        "sys/class/net/eno1/addr_assign_type": "0\n",
        "sys/block/nvme0n1/device/serial": "UICHECK" + secrets.token_hex(4).upper() + "\n",
        "sys/class/dmi/id/product_name": "UI check device\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel in ("sys/class/net/eno1/device", "sys/block/nvme0n1/nvme0n1p2"):
        (root / rel).mkdir(parents=True, exist_ok=True)
    return root


def activate_license(sc: Scenario, usb: Path) -> Step:
    import contextlib
    import io

    from licensing.core.cli import oem_provision_license_main

    lic = sc.app.backend.license
    usb.mkdir(parents=True, exist_ok=True)
    if not lic.makeRequest():
        return Step("license from a file", False, f"request: {lic.value('result')}")
    if not lic.saveRequest(str(usb)):
        return Step("license from a file", False, f"save request: {lic.value('result')}")
    request = sorted(usb.glob("license_request-*.json"))
    if not request:
        return Step("license from a file", False, f"no request file written to {usb}")
    out = usb / "license.json"
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = oem_provision_license_main(
            [
                "--request", str(request[0]), "--customer", "UI check", "--stages", "demo,paper",
                "--valid-days", "30", "--out", str(out), "--allow-virtual",
            ]
        )  # fmt: skip
    if code != 0:
        return Step("license from a file", False, f"provision: {err.getvalue().strip()}")
    ok = lic.importFile(str(out))
    return Step("license from a file", bool(ok), lic.value("result"))


def trade(sc: Scenario) -> list[Step]:
    orders = sc.app.backend.orders
    dashboard = sc.app.backend.dashboard
    steps = []
    ok = orders.submit(SYMBOL, "buy", 0.5, "market", 0.0)
    steps.append(Step("submit market order", bool(ok), orders.value("lastResult")))
    ok = orders.submit(SYMBOL, "buy", 0.5, "limit", round(REFERENCE_PRICE * 0.96, 6))
    line = orders.value("lastResult")
    cid = line.split(" ", 1)[0] if ok else ""
    if ok and cid:
        ok = orders.cancel(cid)
        steps.append(
            Step("rest a limit order and cancel it", bool(ok), f"{line} -> {orders.value('lastResult')}")
        )
    else:
        steps.append(Step("rest a limit order and cancel it", False, line))
    orders.requestKillSwitch()
    ok = orders.confirmKillSwitch("ui check")
    halted = sc.wait(lambda: dashboard.value("riskState") == "HALTED", 10.0)
    steps.append(
        Step(
            "kill switch",
            bool(ok and halted),
            f"{orders.value('lastResult')}; risk {dashboard.value('riskState')}",
        )
    )
    ok = orders.setTradingState("ACTIVE", "ui check resumes")
    active = sc.wait(lambda: dashboard.value("riskState") == "ACTIVE", 10.0)
    steps.append(Step("resume trading (admin)", bool(ok and active), orders.value("lastResult")))
    return steps


def stream_at_load(sc: Scenario, rate: float, seconds: float) -> tuple[Step, dict, tuple[float, float]]:
    sc.app.show_screen("dashboard")
    sc.pump(0.5)
    orders = sc.app.backend.orders
    seen_before = orders.value("fillsSeen")
    start = time.monotonic()
    load = sc.daemon.run_load(rate, seconds, sc.pump)
    end = time.monotonic()
    sc.wait(lambda: orders.value("fillsSeen") - seen_before >= load["accepted"], 15.0)
    load.update(rate_per_s=rate, fills_seen=orders.value("fillsSeen") - seen_before)
    ok = load["accepted"] > 0 and load["fills_seen"] >= load["accepted"]
    detail = (
        f"{load['accepted']} orders filled in {load['seconds']:.1f} s, {load['fills_seen']} fills on screen"
    )
    return Step("stream fills at load", ok, detail), load, (start, end)


def walk_screens(sc: Scenario, out: Path) -> tuple[Step, list[dict]]:
    from audit.trust.hashing import sha384_file
    from desktop_qml.models.backend import SCREENS

    shots = []
    problems = []
    sc.app.backend.checklist.refresh()
    for n, screen in enumerate(SCREENS, 1):
        sc.app.show_screen(screen)
        sc.pump(0.6)
        path = out / "screens" / f"{n:02d}-{screen}.png"
        try:
            sc.app.grab(path)
        except OSError as exc:
            problems.append(str(exc))
            continue
        shots.append(
            {"screen": screen, "png": str(path.relative_to(out)), "sha384": "sha384:" + sha384_file(path)}
        )
    sc.app.backend.setOverlay(True)
    sc.pump(0.4)
    overlay = sc.app.find("overlayWindow")
    if overlay is not None and hasattr(overlay, "grabWindow"):
        path = out / "screens" / f"{len(SCREENS) + 1:02d}-overlay.png"
        image = overlay.grabWindow()
        if not image.isNull() and image.save(str(path), "PNG"):
            shots.append(
                {
                    "screen": "overlay",
                    "png": str(path.relative_to(out)),
                    "sha384": "sha384:" + sha384_file(path),
                }
            )
    sc.app.backend.setOverlay(False)
    ok = not problems and len(shots) >= len(SCREENS)
    return Step("screenshot every screen", ok, "; ".join(problems) or f"{len(shots)} PNGs"), shots


def run_check(
    out: Path,
    *,
    load_seconds: float = 30.0,
    fill_rate: float = 200.0,
    window_s: float | None = None,
    min_covered_s: float | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    from PySide6.QtGui import QGuiApplication

    from audit.trust.hashing import sha384_file
    from audit.trust.installation import init_installation
    from desktop_qml import CLIENT_VERSION
    from desktop_qml.evidence import MIN_COVERED_S, check_ui_telemetry_log
    from desktop_qml.guard.alerts import LOG_NAME
    from execution.daemon.server import UI_GUARD_ITEM
    from execution.proto.gen import oem_daemon_v1_pb2 as pb
    from licensing.core.devkeys import DEV_SWITCH_ENV

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / LOG_NAME
    for stale in [log_path, out / "summary.json", *out.glob("screens/*.png")]:
        stale.unlink(missing_ok=True)  # a rerun into the same directory starts from nothing
    work = Path(tempfile.mkdtemp(prefix="oem-ui-check-"))
    saved_data_dir = os.environ.get("OEM_DATA_DIR")
    saved_root = os.environ.get("OEM_FINGERPRINT_ROOT")
    saved_switch = os.environ.get(DEV_SWITCH_ENV)
    os.environ["OEM_DATA_DIR"] = str(work / "client-var")  # the client's license files, never the real ones
    os.environ["OEM_FINGERPRINT_ROOT"] = str(synthetic_device(work / "device"))
    # The throwaway license the check provisions is signed with the development vendor key.
    os.environ[DEV_SWITCH_ENV] = "true"
    # The device's setup step: its installation is the trust root its license request and license pin.
    init_installation(work / "client-var", secrets.token_urlsafe(24))
    started = datetime.now(UTC)
    steps: list[Step] = []
    summary: dict = {
        "schema": SUMMARY_SCHEMA,
        "client_version": CLIENT_VERSION,
        "started": started.isoformat(),
    }
    try:
        with Scenario(work, log_path=log_path, window_s=window_s) as sc:
            summary["platform"] = QGuiApplication.platformName()
            t0 = time.monotonic()
            connected = sc.connect()
            steps.append(
                Step(
                    "connect over mTLS", connected, sc.app.backend.connection.value("message") or "connected"
                )
            )
            log(f"connected: {connected}")
            if connected:
                steps.extend(trade(sc))
                steps.append(activate_license(sc, work / "usb"))
                steps.append(check_reduce_motion(sc))
                step, load, (load_start, load_end) = stream_at_load(sc, fill_rate, load_seconds)
                steps.append(step)
                summary["load"] = load
                summary["load_frames"] = frame_summary(
                    sc.frames.between(load_start, load_end),
                    load_end - load_start,
                    sc.guard.frames.jank_limit_ms,
                )
                log(f"load: {step.detail}")
                step, shots = walk_screens(sc, out)
                steps.append(step)
                summary["screens"] = shots
            # a last full window so the log ends with samples of the state the run finished in
            sc.pump(sc.guard.thresholds.window_s + 0.5)
            sc.guard.evaluate()
            t1 = time.monotonic()
            summary["frames"] = frame_summary(
                sc.frames.between(t0, t1), t1 - t0, sc.guard.frames.jank_limit_ms
            )
            reporter = sc.guard.reporter
            reporter.flush(10.0)
            summary["daemon_reports"] = {
                "sent": reporter.sent,
                "dropped": reporter.dropped,
                "error": reporter.last_error,
            }
            if connected:
                stub, metadata, channel = sc.daemon.stub("load")
                checklist = stub.GetPreLiveChecklist(
                    pb.GetPreLiveChecklistRequest(), metadata=metadata, timeout=5
                )
                channel.close()
                row = next((i for i in checklist.items if i.name == UI_GUARD_ITEM), None)
                ok = row is not None and row.ok
                steps.append(Step("daemon: UI guard healthy", ok, row.detail if row else "no UI guard row"))
            summary["thresholds"] = {
                "p95_frame_ms": sc.guard.thresholds.p95_frame_ms,
                "jank_percent": sc.guard.thresholds.jank_percent,
                "window_s": sc.guard.thresholds.window_s,
                "min_frames": sc.guard.thresholds.min_frames,
            }
            summary["guard_events"] = dict(sc.guard.guard.emitted)
    finally:
        for name, value in (
            ("OEM_DATA_DIR", saved_data_dir),
            ("OEM_FINGERPRINT_ROOT", saved_root),
            (DEV_SWITCH_ENV, saved_switch),
        ):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(work, ignore_errors=True)

    frames = summary.get("frames", {})
    limits = summary.get("thresholds", {})
    if frames:
        steps.append(
            Step(
                "p95 frame time",
                frames["p95_frame_ms"] < limits["p95_frame_ms"],
                f"{frames['p95_frame_ms']} ms (limit {limits['p95_frame_ms']} ms)",
            )
        )
        steps.append(
            Step(
                "jank",
                frames["jank_percent"] < limits["jank_percent"],
                f"{frames['jank_percent']} % of {frames['frames']} frames (limit {limits['jank_percent']} %)",
            )
        )
    data = log_path.read_bytes() if log_path.exists() else b""
    problems = check_ui_telemetry_log(
        data, min_covered_s=min_covered_s if min_covered_s is not None else MIN_COVERED_S
    )
    steps.append(Step("UI telemetry log is valid evidence", not problems, "; ".join(problems) or "verified"))
    summary["telemetry_log"] = {
        "path": LOG_NAME,
        "sha384": "sha384:" + sha384_file(log_path) if log_path.exists() else "",
        "problems": problems,
    }
    summary["steps"] = [step.__dict__ for step in steps]
    summary["failures"] = [f"{s.name}: {s.detail}" for s in steps if not s.ok]
    summary["passed"] = not summary["failures"]
    summary["finished"] = datetime.now(UTC).isoformat()
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m desktop_qml.check",
        description="Run the desktop client headless against a throwaway daemon; write screenshots, the UI "
        "telemetry log and a summary.",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="directory for the PNGs, JSONL and summary.json"
    )
    parser.add_argument("--load-seconds", type=float, default=30.0, help="how long fills stream at load")
    parser.add_argument("--fill-rate", type=float, default=200.0, help="orders (each one fill) per second")
    parser.add_argument("--window-s", type=float, default=None, help="override the guard window (config)")
    parser.add_argument(
        "--min-covered-s",
        type=float,
        default=None,
        help="evidence: seconds the samples must cover (default 30)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0
    if not 0 < args.load_seconds <= 3600 or not 0 < args.fill_rate <= 5000:
        print("error: --load-seconds must be in (0, 3600] and --fill-rate in (0, 5000]", file=sys.stderr)
        return 2
    if args.window_s is not None and not 1 <= args.window_s <= 60:
        print("error: --window-s must be in [1, 60]", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        summary = run_check(
            args.out,
            load_seconds=args.load_seconds,
            fill_rate=args.fill_rate,
            window_s=args.window_s,
            min_covered_s=args.min_covered_s,
        )
    except Exception as exc:  # noqa: BLE001 - one line, non-zero exit; the traceback helps nobody in CI logs
        print(f"error: ui check could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(args.out / "summary.json")
    frames = summary.get("frames", {})
    print(
        f"frames {frames.get('frames', 0)}, p95 {frames.get('p95_frame_ms', 0)} ms, "
        f"jank {frames.get('jank_percent', 0)} %: {'PASS' if summary['passed'] else 'FAIL'}"
    )
    for failure in summary["failures"]:
        print(f"error: {failure}", file=sys.stderr)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
