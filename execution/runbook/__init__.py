"""Runbook steps around the live daemon, as pure functions with ``*_main(argv)`` command lines.

- ``smoke``: ``smoke_demo_strategies`` — the demo strategies inside the real daemon in demo mode, watched;
- ``dry_run``: ``live_execution_dry_run`` — a scripted, fault-injected session with full order accounting;
- ``metrics_service``: ``run_metrics_service`` — the daemon's metric families on loopback + JSONL snapshots.

No Django here (the management commands and the console jobs wrap these functions). See docs/daemon.md.
"""
