"""The UI guard's pure parts: window statistics, breach/recovery/sample events, the JSONL log, the evidence
verifier for ui_telemetry_log, and the thresholds read from config/core.yaml."""

import json
from datetime import UTC, datetime

import pytest
import yaml

from audit.trust.core_config import ConfigError
from desktop_qml.evidence import check_ui_telemetry_log, verify_ui_telemetry_log
from desktop_qml.guard.alerts import SCHEMA, AlertLog, Guard, Thresholds, load_thresholds
from desktop_qml.guard.stats import FrameWindow, percentile

WHEN = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def _window(frame_ms, *, n=100, window_s=10.0, start=0.0, step=0.016):
    window = FrameWindow(window_s, refresh_hz=60.0)
    t = start
    for i in range(n):
        t += step
        window.add(t, frame_ms(i) if callable(frame_ms) else frame_ms)
    return window, t


def test_p95_is_the_nearest_rank_percentile():
    assert percentile([], 95) == 0.0
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([float(i) for i in range(1, 21)], 95) == 19.0


def test_smooth_frames_have_no_jank_and_a_low_p95():
    window, now = _window(4.0, n=120)
    stats = window.stats(now)
    assert stats.frames == 120 and stats.p95_ms == 4.0 and stats.jank_percent == 0.0
    assert stats.fps == pytest.approx(120 / (now - 0.016))  # since the first frame, until a window has passed


def test_jank_counts_frames_over_twice_the_display_interval():
    window, now = _window(lambda i: 40.0 if i % 10 == 0 else 5.0, n=100)
    stats = window.stats(now)
    assert stats.jank_limit_ms == pytest.approx(2 * 1000 / 60)
    assert stats.jank_frames == 10 and stats.jank_percent == pytest.approx(10.0)


def test_frames_older_than_the_window_leave_it():
    window, now = _window(200.0, n=50, window_s=1.0, step=0.01)
    window, now = _window(3.0, n=1, window_s=1.0, start=now + 5.0)
    assert window.stats(now).frames == 1


def test_a_platform_without_a_refresh_rate_is_taken_as_60_hz():
    window = FrameWindow(5.0, refresh_hz=0.0)
    assert window.display_interval_ms == pytest.approx(1000 / 60)


def test_a_negative_or_non_finite_frame_time_is_refused():
    window = FrameWindow(5.0)
    with pytest.raises(ValueError, match="finite, non-negative"):
        window.add(1.0, float("nan"))


def test_slow_frames_breach_once_then_recover_once(tmp_path):
    log = tmp_path / "logs" / "ui_telemetry_alerts.jsonl"
    thresholds = Thresholds(window_s=5.0, min_frames=5)
    guard = Guard(thresholds, client_version="0.1.0", client_id="t1", sinks=[AlertLog(log)])
    slow, now = _window(220.0, n=10, window_s=5.0, step=0.25)
    first = guard.evaluate(slow.stats(now), now_s=now, when=WHEN)
    again = guard.evaluate(slow.stats(now), now_s=now + 0.5, when=WHEN)
    assert [(e["event"], e["metric"]) for e in first] == [
        ("breach", "p95_frame_ms"),
        ("breach", "jank_percent"),
    ]
    assert again == [] and not guard.healthy
    fast, later = _window(3.0, n=60, window_s=5.0, start=now + 10, step=0.016)
    back = guard.evaluate(fast.stats(later), now_s=later, when=WHEN)
    assert {(e["event"], e["metric"]) for e in back} >= {
        ("recovery", "p95_frame_ms"),
        ("recovery", "jank_percent"),
    }
    assert guard.healthy
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    breach = lines[0]
    assert breach["schema"] == SCHEMA and breach["event"] == "breach" and breach["value"] == 220.0
    assert (
        breach["threshold"] == 150.0
        and breach["client_id"] == "t1"
        and breach["time"] == "2026-11-29T10:00:00.000000Z"
    )
    assert set(breach) >= {"window_s", "window_frames", "fps", "reduce_motion", "client_version"}


def test_too_few_frames_are_not_judged():
    guard = Guard(Thresholds(min_frames=30), client_version="0.1.0")
    window, now = _window(500.0, n=5)
    assert guard.evaluate(window.stats(now), now_s=now) == []


def test_a_sample_per_metric_is_written_once_per_window():
    events = []
    guard = Guard(Thresholds(window_s=2.0, min_frames=1), client_version="0.1.0", sinks=[events.extend])
    window, now = _window(3.0, n=60)
    for step in range(9):  # 0 .. 4 s, every half second
        guard.evaluate(window.stats(now), now_s=now + step * 0.5)
    samples = [e for e in events if e["event"] == "sample"]
    assert [e["metric"] for e in samples] == ["p95_frame_ms", "jank_percent"] * 2


def test_a_failing_sink_does_not_stop_the_others():
    got = []

    def broken(events):
        raise OSError("disk full")

    guard = Guard(Thresholds(min_frames=1), client_version="0.1.0", sinks=[broken, got.extend])
    window, now = _window(400.0, n=10)
    guard.evaluate(window.stats(now), now_s=now)
    assert got and got[0]["event"] == "breach"


def test_thresholds_come_from_the_product_config():
    t = load_thresholds()
    assert (t.p95_frame_ms, t.jank_percent) == (150, 1.0) and t.window_s > 0 and t.min_frames >= 1


@pytest.mark.parametrize(("key", "value"), [("p95_frame_ms", 151), ("jank_percent", 1.5), ("window_s", 0)])
def test_a_config_that_loosens_the_guard_past_its_caps_is_refused(tmp_path, key, value):
    config = yaml.safe_load(open(_repo_config()).read())
    config["ui_guard"][key] = value
    path = tmp_path / "core.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="ui_guard"):
        load_thresholds(path)


def _repo_config():
    from audit.trust.paths import DEFAULT_CONFIG_PATH

    return DEFAULT_CONFIG_PATH


# -- evidence ----------------------------------------------------------------------------------------------
def _sample_lines(n_windows=4, window_s=10.0, frames=600, p95=8.0, jank=0.1, extra=()):
    guard = Guard(Thresholds(), client_version="0.1.0", client_id="ev")
    lines = []
    for i in range(n_windows):
        for metric, value in (("p95_frame_ms", p95), ("jank_percent", jank)):
            event = guard._event("sample", metric, value, _Stats(window_s, frames), WHEN, False)
            event["time"] = f"2026-11-29T10:00:{10 * i:02d}.000000Z"
            lines.append(event)
    lines.extend(extra)
    return "".join(json.dumps(e) + "\n" for e in lines).encode()


class _Stats:
    def __init__(self, span, frames):
        self.span_s, self.frames, self.fps = span, frames, frames / span


def test_a_long_smooth_log_is_proven():
    assert check_ui_telemetry_log(_sample_lines()) == []


def test_a_log_shorter_than_the_minimum_window_is_refused():
    problems = check_ui_telemetry_log(_sample_lines(n_windows=2))
    assert any("cover 20 s, less than 30 s" in p for p in problems)


def test_a_p95_sample_over_its_threshold_or_an_open_breach_is_refused():
    assert any("over its threshold" in p for p in check_ui_telemetry_log(_sample_lines(p95=180.0)))
    breach = json.loads(_sample_lines(n_windows=1).splitlines()[0])
    breach.update(event="breach", value=200.0)
    problems = check_ui_telemetry_log(_sample_lines(extra=[breach]))
    assert any("in breach since" in p and "never recovered" in p for p in problems)


def test_a_threshold_above_the_cap_is_refused():
    problems = check_ui_telemetry_log(_sample_lines().replace(b'"threshold": 150.0', b'"threshold": 500.0'))
    assert any("above the cap 150" in p for p in problems)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b'{"schema": "oem/ui-telemetry-alert/v1"}\n', "schema error"),
        (b"not json\n", "not strict JSON"),
        (b'{"a": 1, "a": 2}\n', "not strict JSON"),
    ],
)
def test_a_malformed_log_is_refused_with_its_line(data, reason):
    problems = check_ui_telemetry_log(data)
    assert problems and reason in problems[0]


def test_the_registry_verifier_names_the_artefact_and_needs_a_file():
    class Artefact:
        name, data = "ui_telemetry", _sample_lines(n_windows=1)

    assert verify_ui_telemetry_log(Artefact(), None)[0].startswith("ui_telemetry: ")
    Artefact.data = None
    assert "must be a file artefact" in verify_ui_telemetry_log(Artefact(), None)[0]


def test_jank_is_judged_over_every_sampled_frame_of_the_log():
    calm = _sample_lines(n_windows=4, frames=600, jank=0.2)
    one_bad_window = json.loads(calm.splitlines()[1])  # a jank sample
    one_bad_window.update(value=2.0)  # 12 of 600 frames in one window; 0.65 % of all 2,400
    lines = calm.splitlines()
    lines[1] = json.dumps(one_bad_window).encode()
    assert check_ui_telemetry_log(b"\n".join(lines) + b"\n") == []
    problems = check_ui_telemetry_log(_sample_lines(n_windows=4, jank=1.5))
    assert any("jank over the log is 1.5 % of 2400 frames" in p for p in problems)


def test_the_verifier_registers_itself_where_the_evidence_registry_exists(monkeypatch):
    import sys
    import types

    import desktop_qml.evidence as evidence

    registered = {}
    registry = types.ModuleType("audit.trust.evidence")
    registry.register_verifier = lambda kind, verifier: registered.__setitem__(kind, verifier)
    monkeypatch.setitem(sys.modules, "audit.trust.evidence", registry)
    evidence._register()
    assert registered == {"ui_telemetry_log": evidence.verify_ui_telemetry_log}

    monkeypatch.setitem(sys.modules, "audit.trust.evidence", None)  # no registry: nothing to do, no error
    evidence._register()


def test_a_metric_hovering_at_its_threshold_does_not_flap():
    events = []
    guard = Guard(Thresholds(min_frames=1), client_version="0.1.0", sinks=[events.extend])
    for p95 in (160.0, 140.0, 155.0, 130.0, 119.0, 125.0):  # over, under, over, under, clearly under, under
        window, now = _window(p95, n=10)
        guard.evaluate(window.stats(now), now_s=now)
    kinds = [(e["event"], e["value"]) for e in events if e["metric"] == "p95_frame_ms"]
    assert kinds == [("breach", 160.0), ("recovery", 119.0)]


def test_a_breach_recovers_once_the_slow_frames_leave_the_window_even_if_the_scene_goes_idle():
    events = []
    guard = Guard(Thresholds(window_s=5.0, min_frames=5), client_version="0.1.0", sinks=[events.extend])
    slow, now = _window(220.0, n=10, window_s=5.0, step=0.25)
    guard.evaluate(slow.stats(now), now_s=now)
    assert not guard.healthy
    guard.evaluate(slow.stats(now + 6.0), now_s=now + 6.0)  # nothing rendered since: the window is empty
    assert guard.healthy
    changes = [e["event"] for e in events if e["event"] != "sample"]
    assert changes == ["breach", "breach", "recovery", "recovery"]
