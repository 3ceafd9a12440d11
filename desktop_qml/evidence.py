"""Evidence verifier for the ``ui_telemetry_log`` artefact kind (docs/trust.md, evidence kinds). No Qt.

A UI telemetry log (``logs/ui_telemetry_alerts.jsonl`` of a client, or the one ``python -m desktop_qml.check``
writes) proves the UI guard watched the client long enough and found it smooth when:

1. every line is strict JSON and valid against ``docs/schemas/ui_telemetry_alert_v1.json``;
2. its samples cover at least ``MIN_COVERED_S`` seconds and ``MIN_FRAMES`` frames (per metric: the sum of
   the sampled windows, which do not overlap);
3. every threshold it was judged by is within the product's caps (p95 150 ms, jank 1 %); every p95 sample
   is within its threshold (a window over 150 ms is a failure however short the run); jank over the whole
   log (the samples' jank weighted by their frames: the share of all sampled frames that janked) is within
   its threshold; and no breach is left without its recovery at the end of the log.

Registered with ``audit.trust.evidence`` at import when that registry exists; ``check_ui_telemetry_log``
is the same check on bytes, for the check command and tests.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema

from audit.trust.canonical import StrictJSONError, strict_loads

KIND = "ui_telemetry_log"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "ui_telemetry_alert_v1.json"
CAPS = {"p95_frame_ms": 150.0, "jank_percent": 1.0}
MIN_COVERED_S = 30.0
MIN_FRAMES = 30
MAX_PROBLEMS = 5


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def parse_log(data: bytes) -> tuple[list[dict], list[str]]:
    events: list[dict] = []
    problems: list[str] = []
    if not data.strip():
        return [], ["the UI telemetry log is empty"]
    if not data.endswith(b"\n"):
        problems.append("the UI telemetry log does not end with a newline (truncated?)")
    for number, line in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), 1):
        try:
            event = strict_loads(line)
        except (StrictJSONError, ValueError) as exc:
            problems.append(f"line {number}: not strict JSON ({exc})")
            continue
        error = jsonschema.exceptions.best_match(_validator().iter_errors(event))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(line)"
            problems.append(
                f"line {number}: schema error at {where}: {' '.join(error.message.split())[:160]}"
            )
            continue
        events.append(event)
    return events, problems


def check_ui_telemetry_log(
    data: bytes, *, min_covered_s: float = MIN_COVERED_S, min_frames: int = MIN_FRAMES
) -> list[str]:
    """One-line problems; [] when the log proves a smooth, long enough watch."""
    events, problems = parse_log(data)
    if problems:
        return problems[:MAX_PROBLEMS]
    open_breaches: dict[tuple[str, str], str] = {}
    covered = dict.fromkeys(CAPS, 0.0)
    frames = dict.fromkeys(CAPS, 0)
    jank_frames = 0.0
    jank_limit = CAPS["jank_percent"]
    for number, e in enumerate(events, 1):
        metric, key = e["metric"], (e["client_id"], e["metric"])
        if e["threshold"] > CAPS[metric]:
            problems.append(
                f"line {number}: {metric} threshold {e['threshold']:g} is above the cap {CAPS[metric]:g}"
            )
        if e["event"] == "breach":
            open_breaches[key] = e["time"]
        elif e["event"] == "recovery":
            open_breaches.pop(key, None)
        else:
            covered[metric] += e["window_s"]
            frames[metric] += e["window_frames"]
            if metric == "jank_percent":
                jank_frames += e["value"] / 100.0 * e["window_frames"]
                jank_limit = min(jank_limit, e["threshold"])
            elif e["value"] > e["threshold"]:
                problems.append(
                    f"line {number}: {metric} sample {e['value']:g} is over its threshold {e['threshold']:g}"
                )
    for (client_id, metric), since in sorted(open_breaches.items()):
        problems.append(f"{metric} of client {client_id} is in breach since {since} and never recovered")
    if frames["jank_percent"]:
        jank = 100.0 * jank_frames / frames["jank_percent"]
        if jank > jank_limit:
            problems.append(
                f"jank over the log is {jank:.3g} % of {frames['jank_percent']} frames, over the threshold "
                f"{jank_limit:g} %"
            )
    for metric in CAPS:
        if covered[metric] < min_covered_s:
            problems.append(
                f"the {metric} samples cover {covered[metric]:g} s, less than {min_covered_s:g} s"
            )
        elif frames[metric] < min_frames:
            problems.append(f"the {metric} samples hold {frames[metric]} frames, fewer than {min_frames}")
    return problems[:MAX_PROBLEMS]


def verify_ui_telemetry_log(artefact, context) -> list[str]:
    """The registry's verifier: ``artefact`` is an ``audit.trust.evidence.ArtefactInput``."""
    if artefact.data is None:
        return [f"{artefact.name}: a ui_telemetry_log must be a file artefact (path + sha384)"]
    return [f"{artefact.name}: {p}" for p in check_ui_telemetry_log(artefact.data)]


def _register() -> None:
    try:
        from audit.trust.evidence import register_verifier
    except ModuleNotFoundError as exc:  # the registry is optional: this module works (and tests) without it
        if exc.name != "audit.trust.evidence":
            raise
        return
    register_verifier(KIND, verify_ui_telemetry_log)


_register()
