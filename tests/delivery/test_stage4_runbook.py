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
        else:
            assert (ROOT / words[1]).is_file(), step.command
    assert "run_paper_smoke_ci.py" in next(s.command for s in steps if s.id == "paper_smoke")
