"""smoke_demo_strategies: the demo strategies through a real in-process daemon (demo mode, mTLS, token)."""

import hashlib
import json

from execution.runbook.smoke import DEMO_STRATEGIES, smoke_demo_strategies_main


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_cycle_produces_a_passing_report_with_the_order_count(tmp_path, capsys):
    assert smoke_demo_strategies_main(["--cycles", "1", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "audit" / "acceptance" / out[-2].rsplit("/", 1)[-1]
    assert out[-2] == str(path) and path.name.startswith("smoke_demo_") and path.suffix == ".jsonl"
    assert out[-1] == "sha384:" + hashlib.sha384(path.read_bytes()).hexdigest()
    *orders, summary = _lines(path)
    assert summary["kind"] == "summary" and summary["passed"] is True
    assert summary["orders"] == len(orders) >= 1 == summary["cycles"]
    assert summary["acknowledged"] == summary["accounted"] == summary["filled"] == len(orders)
    assert summary["daemon_mode"] == "demo" and summary["open_orders_after"] == 0
    buy_and_hold = [o for o in orders if o["strategy"] == "buy_and_hold"]
    assert (
        len(buy_and_hold) == 1 and buy_and_hold[0]["side"] == "buy" and buy_and_hold[0]["status"] == "FILLED"
    )
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
        ["--cycles", "1", "--unit-qty", "-1"],
        ["--cycles", "1", "--target", "127.0.0.1:1"],
    ):
        assert smoke_demo_strategies_main([*argv, "--data-dir", str(tmp_path)]) != 0, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == "", (argv, captured)
    assert list(tmp_path.iterdir()) == []


def test_drives_a_running_daemon_with_target_certs_and_token_file(tmp_path, capsys):
    from execution.runbook.harness import local_daemon

    with local_daemon(tmp_path, "external", mode="demo", operators=("alice",), tick_s=0.2) as running:
        token = tmp_path / "alice.token"
        token.write_text(running.deployment.token("alice", ["operator"]))
        argv = ["--cycles", "3", "--data-dir", str(tmp_path), "--target", f"127.0.0.1:{running.daemon.port}"]
        argv += ["--certs", str(running.deployment.certs_dir), "--token-file", str(token)]
        assert smoke_demo_strategies_main(argv) == 0
    *orders, summary = _lines(next((tmp_path / "audit" / "acceptance").glob("smoke_demo_*.jsonl")))
    assert summary["passed"] and summary["operator"] == "alice" and summary["daemon"].startswith("remote ")
    assert summary["orders"] == len(orders) >= 1


def test_in_daemon_the_strategies_trade_inside_the_daemon_and_the_report_is_valid_evidence(tmp_path, capsys):
    from audit.trust import paths as trust_paths
    from audit.trust.evidence import ArtefactInput, EvidenceContext
    from audit.trust.hashing import sha384_file
    from execution.evidence import verify_smoke_report

    argv = ["--cycles", "40", "--in-daemon", "--data-dir", str(tmp_path)]
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


def test_in_daemon_does_not_take_a_target(tmp_path, capsys):
    argv = ["--cycles", "1", "--in-daemon", "--target", "127.0.0.1:1", "--certs", "c", "--token-file", "t"]
    assert smoke_demo_strategies_main([*argv, "--data-dir", str(tmp_path)]) != 0
    captured = capsys.readouterr()
    assert captured.err.strip().endswith("--in-daemon starts its own daemon; it does not take --target")
    assert len(captured.err.strip().splitlines()) == 1
