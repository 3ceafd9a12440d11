"""smoke_demo_strategies: the demo strategies run inside a real daemon (demo mode, mTLS, an operator token);
the client only watches and reports."""

import hashlib
import json

from execution.drills.smoke import DEMO_STRATEGIES, smoke_demo_strategies_main


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_cycle_produces_a_passing_report_with_the_order_count(tmp_path, capsys):
    assert smoke_demo_strategies_main(["--cycles", "1", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "audit" / "acceptance" / out[-2].rsplit("/", 1)[-1]
    assert out[-2] == str(path) and path.name.startswith("smoke_demo_") and path.suffix == ".jsonl"
    assert out[-1] == "sha384:" + hashlib.sha384(path.read_bytes()).hexdigest()
    *orders, summary = _lines(path)
    assert summary["kind"] == "summary" and summary["passed"] is True and summary["in_daemon"] is True
    assert summary["orders"] == len(orders) >= 1 == summary["cycles"]
    assert summary["acknowledged"] == summary["accounted"] == summary["filled"] == len(orders)
    assert summary["daemon_mode"] == "demo" and summary["open_orders_after"] == 0
    assert summary["operator"] == "smoke" and summary["daemon"].startswith("in-process demo")
    buy_and_hold = [o for o in orders if o["strategy"] == "buy_and_hold"]
    assert buy_and_hold[0]["side"] == "buy" and all(o["status"] == "FILLED" for o in buy_and_hold)
    assert all(o["stream_fill_qty"] == o["final_filled_qty"] == o["qty"] for o in orders)
    assert set(summary["per_strategy"]) == set(DEMO_STRATEGIES)
    assert not list((tmp_path / "runbook").iterdir())  # the throw-away deployment is gone


def test_more_cycles_trade_every_strategy_and_stay_accounted(tmp_path, capsys):
    report = tmp_path / "elsewhere"
    assert (
        smoke_demo_strategies_main(["--cycles", "40", "--data-dir", str(tmp_path), "--report", str(report)])
        == 0
    )
    *orders, summary = _lines(next(report.glob("smoke_demo_*.jsonl")))
    assert summary["passed"] and summary["stream_fills"] == len(orders) == summary["orders"]
    assert all(summary["per_strategy"][name]["orders"] >= 1 for name in DEMO_STRATEGIES)
    assert len({o["client_order_id"] for o in orders}) == len(orders)


def test_bad_arguments_one_line_non_zero_no_report(tmp_path, capsys):
    for argv in (
        ["--cycles", "0"],
        ["--cycles", "x"],
        [],
        ["--cycles", "100000"],
        ["--cycles", "1", "--in-daemon"],  # the strategies always run inside the daemon now
        ["--cycles", "1", "--target", "127.0.0.1:1"],
    ):
        assert smoke_demo_strategies_main([*argv, "--data-dir", str(tmp_path)]) != 0, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == "", (argv, captured)
    assert list(tmp_path.iterdir()) == []


def test_a_running_daemon_without_strategies_is_refused_in_one_line(tmp_path, capsys):
    from execution.drills.harness import local_daemon

    with local_daemon(tmp_path, "external", mode="demo", operators=("alice",), tick_s=0.2) as running:
        token = tmp_path / "alice.token"
        token.write_text(running.deployment.token("alice", ["operator"]))
        argv = ["--cycles", "3", "--data-dir", str(tmp_path), "--target", f"127.0.0.1:{running.daemon.port}"]
        argv += ["--certs", str(running.deployment.certs_dir), "--token-file", str(token)]
        assert smoke_demo_strategies_main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "start it with --feed" in err[0], err
    assert not (tmp_path / "audit" / "acceptance").exists()


def test_the_strategies_trade_inside_the_daemon_and_the_report_is_valid_evidence(tmp_path, capsys):
    from audit.trust import paths as trust_paths
    from audit.trust.evidence import ArtefactInput, EvidenceContext
    from audit.trust.hashing import sha384_file
    from execution.evidence import verify_smoke_report

    argv = ["--cycles", "40", "--data-dir", str(tmp_path)]
    assert smoke_demo_strategies_main(argv) == 0
    path = next((tmp_path / "audit" / "acceptance").glob("smoke_demo_*.jsonl"))
    *orders, summary = _lines(path)
    assert summary["passed"] and summary["in_daemon"] and summary["rejected"] == 0
    assert summary["orders"] == len(orders) == summary["accounted"] == summary["stream_fills"]
    assert set(summary["per_strategy"]) == set(DEMO_STRATEGIES)
    assert all(
        s["state"] == "RUNNING" and s["bars"] == summary["bars_replayed"]
        for s in summary["per_strategy"].values()
    )
    assert all(
        o["stage"] == "demo" and o["stream_fill_qty"] == o["final_filled_qty"] == o["qty"] for o in orders
    )
    assert {o["strategy"] for o in orders} == set(DEMO_STRATEGIES)
    context = EvidenceContext(
        tmp_path, "demo", "demo_exit", {}, None, None, None, sha384_file(trust_paths.DEFAULT_CONFIG_PATH)
    )
    artefact = ArtefactInput("smoke_demo_report", "smoke_report", {}, path, path.read_bytes())
    assert verify_smoke_report(artefact, context) == []
    assert not list((tmp_path / "runbook").iterdir())


def test_against_a_running_daemon_an_operator_starts_watches_and_stops_its_strategies(tmp_path, capsys):
    from execution.daemon.devkit import Deployment
    from execution.daemon.license_hook import LicenseCheck
    from execution.daemon.server import Daemon, DaemonOptions
    from execution.feeds.replay import ReplayFeed
    from risklab.engine.data import SAMPLE_DATA

    dep = Deployment.create(tmp_path / "dep", operators=("smoke",))
    feed = ReplayFeed.from_files([SAMPLE_DATA], start=400, stop_after=800, speed=20_000.0)  # 15 ms a bar
    daemon = Daemon(
        DaemonOptions(
            config_path=dep.config_path,
            mode="demo",
            data_dir=dep.data_dir,
            certs_dir=dep.certs_dir,
            license_checker=lambda stage: LicenseCheck(False, "demo"),
            gate_poll_s=60,
            capital=1.0,
            feed=feed,  # no --strategies: the config's declared demo strategies, as the Stage 4 runbook runs
            stale_after_s=3600.0,
        )
    ).start()
    try:
        # the config's demo strategies wait for the operator (autostart: false), as the Stage 4 daemon's do
        assert all(daemon.strategies.host.info(n).state == "STOPPED" for n in DEMO_STRATEGIES)
        token = tmp_path / "smoke.token"
        token.write_text(dep.token("smoke", ["operator"]))  # no admin role: the strategies' fills only
        argv = ["--cycles", "20", "--target", f"127.0.0.1:{daemon.port}"]
        argv += ["--certs", str(dep.certs_dir), "--token-file", str(token), "--data-dir", str(tmp_path)]
        assert smoke_demo_strategies_main(argv) == 0, capsys.readouterr()
        assert all(daemon.strategies.host.info(n).state == "STOPPED" for n in DEMO_STRATEGIES)
    finally:
        daemon.stop(0)
    *orders, summary = _lines(next((tmp_path / "audit" / "acceptance").glob("smoke_demo_*.jsonl")))
    assert summary["passed"] and summary["in_daemon"] and summary["daemon"] == "remote smoke"
    assert summary["orders"] == len(orders) == summary["accounted"] >= 3
    assert all(v["bars"] >= 240 for v in summary["per_strategy"].values())


def test_against_a_running_daemon_a_viewer_token_is_refused_in_one_line(tmp_path, capsys):
    from execution.drills.harness import local_daemon

    with local_daemon(tmp_path, "plain", mode="demo", operators=("smoke",)) as local:
        token = tmp_path / "smoke.token"
        token.write_text(local.deployment.token("smoke", ["viewer"]))
        argv = ["--cycles", "1", "--target", f"127.0.0.1:{local.daemon.port}"]
        argv += ["--certs", str(local.deployment.certs_dir), "--token-file", str(token)]
        assert smoke_demo_strategies_main([*argv, "--data-dir", str(tmp_path / "d")]) != 0
    captured = capsys.readouterr()
    assert "the token needs the operator role" in captured.err and len(captured.err.strip().splitlines()) == 1
