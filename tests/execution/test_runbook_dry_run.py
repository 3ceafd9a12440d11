"""live_execution_dry_run: 200 orders, 30 % venue faults, every order accounted for exactly once."""

import hashlib
import json
from collections import Counter

from execution.drills.dry_run import live_execution_dry_run_main


def test_two_hundred_orders_with_thirty_percent_faults_are_each_accounted_once(tmp_path, capsys):
    argv = ["--orders", "200", "--fault-rate", "0.3", "--seed", "7", "--data-dir", str(tmp_path)]
    assert live_execution_dry_run_main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    path = tmp_path / "logs" / "live_dry_run" / out[-2].rsplit("/", 1)[-1]
    assert out[-2] == str(path) and out[-1] == "sha384:" + hashlib.sha384(path.read_bytes()).hexdigest()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    faults, summary = lines[0], lines[-1]
    orders = [r for r in lines if r["kind"] == "order"]
    checks = {r["check"]: r for r in lines if r["kind"] == "check"}
    assert summary["passed"] is True and summary["orders"] == len(orders) == 202  # + the two halt probes
    ids = Counter(o["client_order_id"] for o in orders)
    assert max(ids.values()) == 1
    for o in orders:
        assert o["accounted"], o
        assert len(o["terminal_events"]) == 1 and o["terminal_events"][0] == o["final"]["status"]
        assert o["final"]["status"] in ("FILLED", "REJECTED", "CANCELLED")
        assert abs(o["stream_fill_qty"] - o["final"]["filled_qty"]) < 1e-9
        assert abs(o["venue_ledger_qty"] - o["final"]["filled_qty"]) < 1e-9
    assert summary["filled"] + summary["rejected"] + summary["cancelled"] == 202 and summary["other"] == 0
    assert not summary["duplicate_fill_ids"]
    # the faults really happened: ambiguous sends resolved by query, venue errors, rejects, cancels
    observed = faults["observed"]
    assert observed["ambiguous"] > 0 and observed["venue_error"] > 0 and observed["venue_reject"] > 0
    assert summary["cancelled"] > 0 and summary["rejected"] > 0
    assert checks["halted"]["passed"] and checks["halted"]["new_order"]["reason"] == "HALTED"
    assert checks["halted"]["cancel"]["status"] == "CANCELLED"
    assert checks["kill_switch"]["passed"] and checks["kill_switch"]["open_orders_after"] == 0


def test_bad_arguments_one_line_non_zero_no_report(tmp_path, capsys):
    for argv in (
        ["--orders", "0"],
        ["--fault-rate", "1.5"],
        ["--fault-rate", "nan"],
        ["--seed", "-1"],
        ["--orders", "many"],
        ["--bogus"],
    ):
        assert live_execution_dry_run_main([*argv, "--data-dir", str(tmp_path)]) != 0, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == "", (argv, captured)
    assert list(tmp_path.iterdir()) == []
