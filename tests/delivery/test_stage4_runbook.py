"""The STAGE4_MULTI_STRATEGY_SMOKE runbook is data, rendered, and names commands that exist."""

import shlex
from pathlib import Path

from audit.runbooks.model import checklist, load_runbooks

ROOT = Path(__file__).resolve().parents[2]


def test_the_stage4_runbook_is_rendered_from_its_data():
    runbook = load_runbooks()["STAGE4_MULTI_STRATEGY_SMOKE"]
    rendered = (ROOT / "docs" / "runbooks" / "STAGE4_MULTI_STRATEGY_SMOKE.md").read_text()
    assert runbook.title in rendered
    for step in checklist("stage4_multi_strategy_smoke").steps:
        assert f"`{step.id}`" in rendered


def test_every_stage4_command_names_a_script_or_command_that_exists():
    steps = checklist("stage4_multi_strategy_smoke").steps
    assert [s.responsible for s in steps][-1] == "product_owner"
    for step in steps:
        if step.command is None:
            continue
        words = shlex.split(step.command)
        assert words[0] == "python"
        if words[1] == "manage.py":
            commands = list(ROOT.glob(f"*/management/commands/{words[2]}.py"))
            assert commands, step.command
        elif words[1] == "-m":
            module = ROOT / words[2].replace(".", "/")
            assert (module / "__main__.py").is_file() or module.with_suffix(".py").is_file(), step.command
        else:
            assert (ROOT / words[1]).is_file(), step.command
    assert "run_paper_smoke_ci.py" in next(s.command for s in steps if s.id == "paper_smoke")


def test_the_smoke_watches_strategies_inside_a_daemon_started_with_a_feed_and_an_operator_token():
    steps = {s.id: s for s in checklist("stage4_multi_strategy_smoke").steps}
    order = list(steps)
    assert order.index("start_daemon") < order.index("multi_strategy_smoke")
    daemon = shlex.split(steps["start_daemon"].command)
    assert daemon[:3] == ["python", "-m", "execution.daemon"] and "--feed" in daemon
    assert daemon[daemon.index("--mode") + 1] == "demo"
    feed = daemon[daemon.index("--feed") + 1]
    assert feed.startswith("replay:") and (ROOT / feed.split(":")[1]).is_file()
    token = shlex.split(steps["operator_token"].command)
    assert token[token.index("--roles") + 1] == "operator"  # starts, stops and watches: no admin role
    smoke = shlex.split(steps["multi_strategy_smoke"].command)
    assert smoke[1] == "scripts/smoke_demo_strategies.py" and "--target" in smoke
    assert "--in-daemon" not in smoke and "inside the running daemon" in steps["multi_strategy_smoke"].step
