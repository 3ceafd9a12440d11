"""Render the runbook data into docs/runbooks/<RUNBOOK_ID>.md, and detect drift between the two.

Output is a pure function of the YAML data (and of audit.trust.gates.GATES for the gate summary): no dates,
no machine paths, sorted where order is not given by the data, LF line endings. Every generated file starts
with GENERATED_MARKER; `check()` reports generated files whose runbook no longer exists as "extra", and never
touches hand-written files that share the directory.
"""

from __future__ import annotations

from pathlib import Path

from audit.runbooks.model import (
    DATA_DIR,
    Checklist,
    Runbook,
    Step,
    decision_command,
    load_runbooks,
    version,
)
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.gates import GATES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "docs" / "runbooks"
GENERATED_MARKER = "<!-- Generated from audit/runbooks/data"


def render_runbook(runbook: Runbook) -> str:
    out: list[str] = [
        f"{GENERATED_MARKER}/{runbook.source} by scripts/render_runbooks.py. "
        "Do not edit: change the YAML and re-render. -->",
        "",
        f"# {_inline(runbook.title)}",
        "",
        f"Runbook `{runbook.id}` | gate: {_gate_text(runbook)}",
        "",
        _inline(runbook.purpose),
        "",
    ]
    if runbook.references:
        out += ["References:", ""] + [f"- `{ref}`" for ref in runbook.references] + [""]
    for item in runbook.checklists:
        out += _checklist(item)
    return "\n".join(out).rstrip("\n") + "\n"


def _gate_text(runbook: Runbook) -> str:
    if runbook.gate:
        return f"`{runbook.gate}`"
    if runbook.gates:
        return "per checklist (" + ", ".join(f"`{g}`" for g in runbook.gates) + ")"
    return "none"


def _checklist(item: Checklist) -> list[str]:
    out: list[str] = []
    if item.anchor:
        out.append(f'<a id="{item.anchor}"></a>')
        out.append("")
    out += [
        f"## {_inline(item.title)}",
        "",
        f"Checklist `{item.id}` | gate: {f'`{item.gate}`' if item.gate else 'none'} | "
        f"version `{version(item)}`",
        "",
        "E-signatures bind to this version: changing any step makes earlier signatures refer to an older "
        "one.",
        "",
        "| Step | Responsible | Artefacts | Acceptance | Command |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, step in enumerate(item.steps, 1):
        out.append(
            "| "
            + " | ".join(
                (
                    _step_cell(number, step),
                    f"`{step.responsible}`",
                    _artefacts_cell(step),
                    _cell(step.acceptance),
                    f"`{_code(step.command)}`" if step.command else "-",
                )
            )
            + " |"
        )
    out.append("")
    gate = GATES.get(item.gate) if item.gate else None
    if gate is not None:
        out += [
            f"Gate `{gate.name}` requires: artefacts "
            + ", ".join(f"`{a.name}`" for a in gate.artefacts)
            + "; signed checklists "
            + ", ".join(f"`checklist_{c}`" for c in gate.checklists)
            + "; decision signatures by "
            + ", ".join(f"`{r}`" for r in gate.signer_roles)
            + f"; entry `status={gate.status}` in the `{gate.log}` decision log.",
            "",
        ]
    command = decision_command(item)
    if command and gate is not None:
        out += [
            f"After this checklist is signed, record `status={gate.status}` in the `{gate.log}` decision "
            "log, then run `python scripts/verify_decision_log.py --strict`:",
            "",
            "```",
            command.replace(" --", " \\\n  --"),
            "```",
            "",
        ]
    return out


def _step_cell(number: int, step: Step) -> str:
    text = f"**{number}. `{step.id}`** {_cell(step.step)}"
    if step.sprint is not None:
        text += f" (sprint {step.sprint})"
    return text


def _artefacts_cell(step: Step) -> str:
    if not step.artefacts:
        return "-"
    parts = []
    for artefact in step.artefacts:
        flags = [f for f, on in (("SHA-384", artefact.hash), ("gate", step.gate_artefact)) if on]
        suffix = f" [{', '.join(flags)}]" if flags else ""
        parts.append(f"`{artefact.name}`{suffix}: {_cell(artefact.description)}")
    return "<br>".join(parts)


def _inline(text: str) -> str:
    """Plain text for Markdown: HTML-significant characters escaped, backticks and pipes kept literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _code(text: str) -> str:
    return text.replace("|", "\\|")


# ---- files ---------------------------------------------------------------------------------------------
def expected_files(data_dir: Path | str = DATA_DIR) -> dict[str, bytes]:
    """File name -> bytes of every runbook Markdown the data produces."""
    return {f"{rb.id}.md": render_runbook(rb).encode("utf-8") for rb in load_runbooks(data_dir).values()}


def _generated(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(GENERATED_MARKER)) == GENERATED_MARKER.encode()
    except OSError:
        return False


def render_all(out_dir: Path | str = DEFAULT_OUT, data_dir: Path | str = DATA_DIR) -> list[Path]:
    """Write every runbook Markdown into out_dir (removing generated files of runbooks that are gone)."""
    out_dir = Path(out_dir)
    expected = expected_files(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, data in expected.items():
        path = out_dir / name
        if not path.is_file() or path.read_bytes() != data:
            atomic_write_bytes(path, data)
        written.append(path)
    for path in sorted(out_dir.glob("*.md")):
        if path.name not in expected and _generated(path):
            path.unlink()
    return written


def check(out_dir: Path | str = DEFAULT_OUT, data_dir: Path | str = DATA_DIR) -> list[str]:
    """One line per file that differs from the data: "<path>: missing|drifted|extra". Empty = in sync."""
    out_dir = Path(out_dir)
    expected = expected_files(data_dir)
    problems: list[str] = []
    for name, data in expected.items():
        path = out_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.read_bytes() != data:
            problems.append(f"{path}: drifted")
    if out_dir.is_dir():
        for path in sorted(out_dir.glob("*.md")):
            if path.name not in expected and _generated(path):
                problems.append(f"{path}: extra (generated, but no runbook {path.stem} in the data)")
    return problems
