"""The daemon's run-time gate: may this process trade live right now?

Checked at start and whenever the evidence files change (``GateWatcher`` polls mtimes). Every check that
fails adds one reason; live is unlocked only when there are none:

1. the config verifies (HMAC signature, schema, live profile) - ``audit.trust.core_config.validate_config``;
2. the license is valid for this machine and the live stage - ``license_hook.check_license``;
3. the decision logs verify strictly - ``audit.trust.verifier.verify_decision_logs``;
4. the ``live_go`` gate passes with the SHA-384 of the config in use;
5. the live_ready entry's ``mtls_fingerprint`` equals the SHA-384 of the live_bundle.tar.gz in use (and the
   files the daemon serves are the ones inside that tar);
6. ``runtime_state``: compliance_confirmed is true and require_demo_mode is false.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audit.trust import paths as trust_paths
from audit.trust.core_config import ConfigError, validate_config
from audit.trust.gates import RuntimeState, evaluate_all, runtime_state
from audit.trust.hashing import sha384_file
from audit.trust.keyring import KeyRing, KeyRingError
from audit.trust.verifier import verify_decision_logs
from execution.daemon.license_hook import LicenseCheck, check_license
from execution.mtls.bundle import BUNDLE_NAME, bundle_matches_files

LicenseChecker = Callable[[str], LicenseCheck]


@dataclass
class GateResult:
    live_unlocked: bool
    reasons: list[str]
    gates: dict[str, tuple[bool, list[str]]] = field(default_factory=dict)
    license: LicenseCheck = field(default_factory=lambda: LicenseCheck(False, "not checked"))
    config_sha384: str = ""
    bundle_sha384: str = ""
    items: list[tuple[str, bool, str]] = field(default_factory=list)  # pre-live checklist rows
    deciding: dict[str, str] = field(default_factory=dict)  # gate -> "file:line status timestamp"
    # the runtime flags of the strictly verified logs (safe defaults without them): StrategyContext reads them
    runtime: RuntimeState = field(default_factory=RuntimeState)


def evaluate_live(
    *,
    config_path: Path,
    data_dir: Path,
    certs_dir: Path,
    keyring: KeyRing | None = None,
    license_checker: LicenseChecker | None = None,
) -> GateResult:
    reasons: list[str] = []
    items: list[tuple[str, bool, str]] = []

    def item(name: str, problems: list[str], ok_detail: str) -> None:
        items.append((name, not problems, "; ".join(problems) if problems else ok_detail))
        reasons.extend(problems)

    try:
        keyring = keyring or KeyRing.load(data_dir)
    except KeyRingError as exc:
        return GateResult(False, [f"key ring: {exc}"], items=[("key ring", False, str(exc))])
    config_sha = ""
    try:
        validation = validate_config(config_path, "live", keyring=keyring)
        config_sha = validation.sha384
        item(
            "config signature",
            [],
            f"{config_path.name} sha384:{config_sha[:16]}... signed by {validation.signed_by}",
        )
    except ConfigError as exc:
        item("config signature", [f"config: {exc}"], "")
        try:
            config_sha = sha384_file(config_path)
        except OSError:
            config_sha = ""
    checker = license_checker or (
        lambda stage: check_license(data_dir=data_dir, keyring=keyring, stage=stage)
    )
    lic = checker("live")
    item("license", [] if lic.valid else (lic.reasons or [f"license: {lic.summary}"]), lic.summary)
    report = verify_decision_logs(None, keyring, data_dir=data_dir)
    item(
        "decision logs",
        [] if report.ok else [f"decision log: {p}" for p in report.problems],
        f"{len(report.entries)} entries verified",
    )
    evaluations = evaluate_all(report, {"config_sha384": config_sha} if config_sha else None)
    gates = {name: (ev.passed, list(ev.missing)) for name, ev in evaluations.items()}
    deciding = {
        name: f"{Path(ev.entry.file).name}:{ev.entry.line} {ev.entry.entry.get('status', '')} "
        f"{ev.entry.entry.get('timestamp', '')}"
        for name, ev in evaluations.items()
        if ev.entry is not None
    }
    live = evaluations["live_go"]
    gate_problems = [] if live.passed else [f"live_go: {m}" for m in live.missing if report.ok]
    if not report.ok and not live.passed:
        gate_problems = ["live_go: decision logs do not verify"]
    item("live_go gate", gate_problems, "passed")
    bundle = Path(certs_dir) / BUNDLE_NAME
    bundle_sha = ""
    mtls_problems: list[str] = []
    try:
        bundle_sha = sha384_file(bundle)
    except OSError:
        mtls_problems.append(f"mTLS bundle {bundle} is missing")
    if bundle_sha:
        mtls_problems.extend(f"mTLS: {p}" for p in bundle_matches_files(Path(certs_dir)))
        recorded = live.entry.entry["artefacts"].get("mtls_fingerprint") if live.entry else None
        if recorded is None:
            mtls_problems.append("mTLS: no live_ready entry records an mtls_fingerprint")
        elif recorded != f"sha384:{bundle_sha}":
            mtls_problems.append(
                f"mTLS: bundle in use sha384:{bundle_sha[:16]}... differs from the live_ready "
                f"mtls_fingerprint {str(recorded)[:23]}..."
            )
    item("mTLS bundle", mtls_problems, f"sha384:{bundle_sha[:16]}... matches live_ready")
    state = runtime_state(report)
    flag_problems = []
    if not state.compliance_confirmed:
        flag_problems.append("runtime flag runtime.compliance_confirmed is not true")
    if state.require_demo_mode:
        flag_problems.append("runtime flag StrategyContext.require_demo_mode is not false")
    item("runtime flags", flag_problems, f"from {state.source}")
    # one line per reason, no duplicates, in check order
    seen: set[str] = set()
    unique = [r for r in reasons if not (r in seen or seen.add(r))]
    return GateResult(not unique, unique, gates, lic, config_sha, bundle_sha, items, deciding, state)


def watched_files(config_path: Path, data_dir: Path, certs_dir: Path) -> list[Path]:
    logs = trust_paths.decision_logs_dir(data_dir)
    files = [config_path, config_path.with_name(config_path.name + ".sig"), Path(certs_dir) / BUNDLE_NAME]
    files += [Path(data_dir) / "licenses" / n for n in ("license.json", "crl.json")]
    for name in trust_paths.LOG_NAMES:
        log = logs / f"{name}.jsonl"
        files += [log, trust_paths.checkpoint_path(log)]
    return files


def _stamp(files: list[Path]) -> tuple:
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append((str(f), None))
    return tuple(out)


class GateWatcher:
    """Re-evaluates the gate when any watched file changes (polled every ``interval_s``)."""

    def __init__(
        self,
        evaluate: Callable[[], GateResult],
        files: list[Path],
        on_change,
        interval_s: float = 2.0,
        on_tick: Callable[[], None] | None = None,
    ):
        self._evaluate = evaluate
        self._files = files
        self._on_change = on_change
        self.interval_s = interval_s
        self._on_tick = on_tick or (lambda: None)
        self._stamp = _stamp(files)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gate-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def check_now(self) -> bool:
        stamp = _stamp(self._files)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self._on_change(self._evaluate())
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_now()
                self._on_tick()
            except Exception:  # noqa: BLE001,S110 - the watcher must keep running; the next poll retries
                pass

    def stop(self) -> None:
        self._stop.set()
