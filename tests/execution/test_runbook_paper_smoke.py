"""run_paper_smoke_ci: a paper session through a real in-process daemon (paper mode, signed config, mTLS)."""

import json

from audit.trust.canonical import canonical_bytes, strict_loads
from audit.trust.hashing import sha384_bytes
from execution.drills import paper_smoke
from execution.drills.paper_smoke import run_paper_smoke_ci_main
from execution.drills.smoke import DEMO_STRATEGIES


def _reports(folder):
    return sorted(folder.glob("paper_smoke_*.json")), sorted(folder.glob("paper_smoke_*.md"))


def test_a_paper_session_passes_with_fills_and_every_risk_denial(tmp_path, capsys, monkeypatch):
    summary_file = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    argv = ["--data-dir", str(tmp_path), "--cycles", "24", "--render-summary-markdown"]
    assert run_paper_smoke_ci_main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    folder = tmp_path / "reports" / "paper_smoke"
    (json_path,), (md_path,) = _reports(folder)
    assert out[-3:] == [str(json_path), str(md_path), f"sha384:{sha384_bytes(json_path.read_bytes())}"]
    data = json_path.read_bytes()
    report = strict_loads(data)
    assert data == canonical_bytes(report)
    assert report["schema"] == "oem/paper-smoke/v1" and report["passed"] is True
    assert report["daemon"]["mode"] == "paper"
    strategies = report["strategies"]
    assert (
        strategies["passed"] and strategies["orders"] == strategies["filled"] == strategies["accounted"] >= 3
    )
    assert set(strategies["per_strategy"]) == set(DEMO_STRATEGIES)
    assert [d["reason"] for d in report["risk_denials"]] == ["MAX_ORDER_NOTIONAL", "PRICE_BAND", "HALTED"]
    assert all(d["passed"] and not d["accepted"] for d in report["risk_denials"])
    orders_log = folder / report["orders_log"]["path"]
    assert report["orders_log"]["sha384"] == f"sha384:{sha384_bytes(orders_log.read_bytes())}"
    *orders, summary = [json.loads(line) for line in orders_log.read_text().splitlines()]
    assert summary["stage"] == "paper" and summary["check"] == "smoke_paper_strategies"
    assert {o["status"] for o in orders} == {"FILLED"}
    markdown = md_path.read_text()
    assert markdown.startswith(f"# Paper smoke {report['run']}: PASSED")
    assert (
        sha384_bytes(data) in markdown and "| new order while HALTED | HALTED | HALTED | passed |" in markdown
    )
    assert summary_file.read_text() == markdown
    assert not list((tmp_path / "runbook").iterdir()), "the throw-away deployment is gone"


def test_a_risk_check_that_lets_an_order_through_fails_the_run_with_one_line(tmp_path, capsys, monkeypatch):
    def lenient(operator, admin, *, price, limits, run):
        return [
            {
                "probe": "p",
                "expected": "HALTED",
                "accepted": True,
                "reason": "",
                "message": "",
                "passed": False,
            }
        ]

    monkeypatch.setattr(paper_smoke, "risk_denials", lenient)
    assert run_paper_smoke_ci_main(["--data-dir", str(tmp_path), "--cycles", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HALTED not denied" in err
    (json_path,), (md_path,) = _reports(tmp_path / "reports" / "paper_smoke")
    assert strict_loads(json_path.read_bytes())["passed"] is False
    assert ": FAILED" in md_path.read_text().splitlines()[0]
    from execution.drills.paper_smoke import report_problems

    problems = report_problems(md_path.read_bytes(), json_path.parent)
    assert any("did not pass" in p for p in problems) and any("risk denial" in p for p in problems)


def test_bad_arguments_are_one_line_and_write_nothing(tmp_path, capsys):
    for argv in (["--cycles", "0"], ["--cycles", "x"], ["--nope"]):
        assert run_paper_smoke_ci_main([*argv, "--data-dir", str(tmp_path)]) == 2, argv
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_the_markdown_report_proves_the_smoke_only_while_its_json_matches(tmp_path):
    from execution.drills.paper_smoke import report_problems

    assert run_paper_smoke_ci_main(["--data-dir", str(tmp_path), "--cycles", "1"]) == 0
    folder = tmp_path / "reports" / "paper_smoke"
    (json_path,), (md_path,) = _reports(folder)
    assert report_problems(md_path.read_bytes(), folder) == []
    assert report_problems(b"# Paper smoke x: PASSED\n", folder)[0].endswith("sha384:<hex>` line")
    assert "is not beside" in report_problems(md_path.read_bytes(), tmp_path)[0]
    report = strict_loads(json_path.read_bytes())
    json_path.write_bytes(canonical_bytes({**report, "passed": False}))
    assert "does not match the SHA-384" in report_problems(md_path.read_bytes(), folder)[0]


def test_the_paper_smoke_report_verifier_proves_exactly_what_run_paper_smoke_ci_writes(tmp_path):
    from audit.trust import paths as trust_paths
    from audit.trust.evidence import ArtefactInput, EvidenceContext
    from audit.trust.hashing import sha384_file
    from execution.evidence import verify_paper_smoke_report

    assert run_paper_smoke_ci_main(["--data-dir", str(tmp_path), "--cycles", "1"]) == 0
    (json_path,), _ = _reports(tmp_path / "reports" / "paper_smoke")

    def verdict(path, config_hex=sha384_file(trust_paths.DEFAULT_CONFIG_PATH)):
        ctx = EvidenceContext(tmp_path, "paper", "paper_exit", {}, None, None, None, config_hex)
        value = {"path": path.name, "sha384": sha384_bytes(path.read_bytes())}
        artefact = ArtefactInput("paper_smoke_report", "paper_smoke_report", value, path, path.read_bytes())
        return verify_paper_smoke_report(artefact, ctx)

    assert verdict(json_path) == []
    assert "not the entry's config_hash" in verdict(json_path, "d" * 96)[0]
    assert "not strict JSON" in verdict(json_path.with_suffix(".md"))[0]  # the Markdown is for people
    orders = json_path.parent / strict_loads(json_path.read_bytes())["orders_log"]["path"]
    orders.write_bytes(orders.read_bytes().replace(b'"FILLED"', b'"PARTIAL"', 1))
    assert "is not the orders log the report records" in verdict(json_path)[0]
