"""Drills: the runs a runbook step asks for, performed against a real daemon, as pure functions with
``*_main(argv)`` command lines. The runbooks themselves (what to do, who signs) are data in audit/runbooks/;
this package is what the engineer runs to produce a step's evidence.

- ``smoke``: ``smoke_demo_strategies`` — the demo strategies inside the real daemon in demo mode, watched;
- ``paper_smoke``: ``run_paper_smoke_ci`` — the paper stage's smoke, with its CI record;
- ``dry_run``: ``live_execution_dry_run`` — a scripted, fault-injected session with full order accounting;
- ``metrics_service``: ``run_metrics_service`` — the daemon's metric families on loopback + JSONL snapshots.

No Django here (the management commands and the console jobs wrap these functions). See docs/daemon.md.
"""
