"""Runbooks as data: one YAML file per runbook in audit/runbooks/data/, loaded and validated strictly.

The same data renders the Markdown runbooks in docs/runbooks/ (render.py), the console checklists and the
signed checklist PDF (pdf.py). Pure Python: no Django, importable by the daemon, the bundle and the CLIs.

File shape (every key is checked; unknown keys are errors):

    id: DEMO_PAPER_LIVE_CHECKLIST        # == the file name without .yaml; names docs/runbooks/<id>.md
    title: ...
    purpose: ...
    gate: demo_exit | paper_exit | live_go | null
    references: [docs/..., scripts/...]
    checklists:
      - id: demo_stage1                  # unique across all runbooks
        title: ...
        anchor: etap-1                   # optional HTML anchor in the Markdown (GATES references use them)
        gate: demo_exit                  # optional; defaults to the runbook's gate
        steps:
          - id: validate_config          # stable slug, unique within the checklist
            step: what to do
            responsible: engineer        # one of ROLES
            artefacts: [{name, description, hash}]
            acceptance: the criterion
            command: python scripts/validate_config.py --profile demo   # or null
            sprint: 1                    # optional, 1..4: the sprint task this step carries
            gate_artefact: true          # optional: an artefact of this step feeds the gate

The decision entry that follows a gate's checklist is not data here: `decision_command(checklist)` derives
it from audit.trust.gates.GATES and STATUS_RULES (artefacts, runtime flags, signer roles), so it cannot drift.

`version(checklist)` is "sha384:<hex>" over the canonical JSON (RFC 8785) of the checklist's normalised
data plus its runbook id; the console binds every e-signature to it, so any edit to a step's wording,
artefacts or acceptance makes earlier signatures refer to an older version.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from audit.trust.canonical import canonical_bytes
from audit.trust.core_config import ConfigError, parse_yaml
from audit.trust.decision_rules import LOG_STAGE, STATUS_RULES
from audit.trust.fsutil import MAX_CONFIG_FILE, read_regular_file
from audit.trust.gates import DECISION_ARTEFACTS, GATES
from audit.trust.hashing import sha384_bytes

DATA_DIR = Path(__file__).resolve().parent / "data"

ROLES = ("engineer", "product_owner", "compliance", "admin", "operator")
GATE_NAMES = tuple(GATES)
SPRINTS = (1, 2, 3, 4)

_SLUG = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
_RUNBOOK_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}\Z")
_ANCHOR = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}\Z")

_RUNBOOK_KEYS = {
    "id": True,
    "title": True,
    "purpose": True,
    "gate": True,
    "references": True,
    "checklists": True,
}
_CHECKLIST_KEYS = {
    "id": True,
    "title": True,
    "steps": True,
    "anchor": False,
    "gate": False,
}
_STEP_KEYS = {
    "id": True,
    "step": True,
    "responsible": True,
    "artefacts": True,
    "acceptance": True,
    "command": True,
    "sprint": False,
    "gate_artefact": False,
}
_ARTEFACT_KEYS = {"name": True, "description": True, "hash": True}


class RunbookError(ValueError):
    """A runbook file is unusable. One line: `<file>: [checklist <id>: ][step <id>: ]<reason>`."""


@dataclass(frozen=True)
class ArtefactSpec:
    name: str
    description: str
    hash: bool  # a file whose SHA-384 is recorded with the signature

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "hash": self.hash}


@dataclass(frozen=True)
class Step:
    id: str
    step: str
    responsible: str
    artefacts: tuple[ArtefactSpec, ...]
    acceptance: str
    command: str | None
    sprint: int | None = None
    gate_artefact: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step,
            "responsible": self.responsible,
            "artefacts": [a.to_dict() for a in self.artefacts],
            "acceptance": self.acceptance,
            "command": self.command,
            "sprint": self.sprint,
            "gate_artefact": self.gate_artefact,
        }


@dataclass(frozen=True)
class Checklist:
    id: str
    runbook: str  # id of the runbook holding it
    title: str
    gate: str | None  # effective gate (the checklist's own, else the runbook's)
    anchor: str | None
    steps: tuple[Step, ...]

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"checklist {self.id} has no step {step_id!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "runbook": self.runbook,
            "title": self.title,
            "gate": self.gate,
            "anchor": self.anchor,
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass(frozen=True)
class Runbook:
    id: str
    title: str
    purpose: str
    gate: str | None
    references: tuple[str, ...]
    checklists: tuple[Checklist, ...]
    source: str  # file name it was loaded from

    @property
    def gates(self) -> tuple[str, ...]:
        """Every gate this runbook serves: its own and its checklists'."""
        found = [self.gate] + [c.gate for c in self.checklists]
        return tuple(dict.fromkeys(g for g in found if g))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "purpose": self.purpose,
            "gate": self.gate,
            "references": list(self.references),
            "checklists": [c.to_dict() for c in self.checklists],
        }


# ---- loading -------------------------------------------------------------------------------------------
def load_runbooks(data_dir: Path | str = DATA_DIR) -> dict[str, Runbook]:
    """Every `*.yaml` in data_dir, by runbook id (sorted). Raises RunbookError on the first problem.

    The committed data is parsed once per process (it is code, not state); other directories every time."""
    if Path(data_dir) == DATA_DIR:
        return dict(_committed_runbooks())
    return _load_runbooks(Path(data_dir))


@functools.cache
def _committed_runbooks() -> dict[str, Runbook]:
    return _load_runbooks(DATA_DIR)


def _load_runbooks(data_dir: Path) -> dict[str, Runbook]:
    files = sorted(data_dir.glob("*.yaml"))
    if not files:
        raise RunbookError(f"{data_dir}: no runbook files (*.yaml)")
    runbooks: dict[str, Runbook] = {}
    owner: dict[str, str] = {}  # checklist id -> file
    for path in files:
        runbook = load_runbook(path)
        for item in runbook.checklists:
            if item.id in owner:
                raise RunbookError(
                    f"{path.name}: checklist {item.id}: duplicate checklist id (also in {owner[item.id]})"
                )
            owner[item.id] = path.name
        runbooks[runbook.id] = runbook
    return dict(sorted(runbooks.items()))


def load_runbook(path: Path | str) -> Runbook:
    path = Path(path)
    try:
        data = read_regular_file(path, max_bytes=MAX_CONFIG_FILE, what="runbook")
    except OSError as exc:
        raise RunbookError(f"{path.name}: cannot read: {exc.strerror}") from exc
    try:
        raw = parse_yaml(data)
    except ConfigError as exc:
        raise RunbookError(f"{path.name}: {_where(data, str(exc))}{_one_line(exc)}") from exc
    return _runbook(raw, path)


def checklist(checklist_id: str, runbooks: Mapping[str, Runbook] | None = None) -> Checklist:
    """The checklist with this id (from the committed data unless `runbooks` is given)."""
    for runbook in (runbooks if runbooks is not None else load_runbooks()).values():
        for item in runbook.checklists:
            if item.id == checklist_id:
                return item
    raise RunbookError(f"unknown checklist {checklist_id!r}")


def version(checklist: Checklist) -> str:
    """ "sha384:<hex>" of the checklist's canonical data; every e-signature binds to this."""
    return "sha384:" + sha384_bytes(canonical_bytes(checklist.to_dict()))


def decision_command(checklist: Checklist) -> str | None:
    """The `verify_decision_log update` command that records the gate decision this checklist is signed for.

    None unless the checklist is one its gate requires. Built from GATES and STATUS_RULES, so artefacts,
    runtime flags and signer roles are always the ones the verifier and the gate evaluation demand.
    """
    gate = GATES.get(checklist.gate) if checklist.gate else None
    if gate is None or checklist.id not in gate.checklists:
        return None
    rule = STATUS_RULES[gate.status]
    parts = [
        "python scripts/verify_decision_log.py update",
        f"--log var/audit/decision_logs/{gate.log}.jsonl",
        f"--stage {LOG_STAGE[gate.log]} --status {gate.status}",
    ]
    for artefact in gate.artefacts:
        if artefact.name in DECISION_ARTEFACTS:  # update archives the evidence and records these itself
            continue
        value = f"@<{artefact.name} file>" if artefact.file else f"<{artefact.name}>"
        parts.append(f"--artefact {artefact.name}={value}")
    for name in gate.checklists:
        parts.append(f"--artefact checklist_{name}=@<signed checklist {name} JSON>")
    for flag, value in {**rule.runtime_flags, **gate.runtime_flags}.items():
        parts.append(f"--flag {flag}={str(value).lower()}")
    for role in gate.signer_roles:
        parts.append(f"--signer {role}=<username>")
    return " ".join(parts)


def gate_artefacts_produced(runbooks: Mapping[str, Runbook], gate: str) -> dict[str, list[str]]:
    """Artefact name -> ["<checklist>/<step>", ...] for steps marked gate_artefact in checklists of `gate`."""
    produced: dict[str, list[str]] = {}
    for runbook in runbooks.values():
        for item in runbook.checklists:
            if item.gate != gate:
                continue
            for step in item.steps:
                if step.gate_artefact:
                    for artefact in step.artefacts:
                        produced.setdefault(artefact.name, []).append(f"{item.id}/{step.id}")
    return produced


# ---- validation ----------------------------------------------------------------------------------------
class _Ctx:
    def __init__(self, file: str, checklist_id: str | None = None, step_id: str | None = None):
        self.file, self.checklist_id, self.step_id = file, checklist_id, step_id

    def fail(self, reason: str) -> RunbookError:
        where = self.file
        if self.checklist_id is not None:
            where += f": checklist {self.checklist_id}"
        if self.step_id is not None:
            where += f": step {self.step_id}"
        return RunbookError(f"{where}: {' '.join(reason.split())}")


def _keys(obj: Any, spec: dict[str, bool], what: str, ctx: _Ctx) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ctx.fail(f"{what} must be a mapping, got {type(obj).__name__}")
    unknown = sorted(str(k) for k in obj if k not in spec)
    if unknown:
        raise ctx.fail(f"unknown key(s) in {what}: {', '.join(unknown)}")
    missing = [k for k, required in spec.items() if required and k not in obj]
    if missing:
        raise ctx.fail(f"missing field(s) in {what}: {', '.join(missing)}")
    return obj


def _text(obj: dict, key: str, ctx: _Ctx, *, nullable: bool = False) -> str | None:
    value = obj.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(f"{key} must be a non-empty string" + (" or null" if nullable else ""))
    if "\n" in value.strip() or "\r" in value:
        raise ctx.fail(f"{key} must be one line")
    return value.strip()


def _choice(obj: dict, key: str, choices: tuple, ctx: _Ctx, *, nullable: bool = False) -> Any:
    value = obj.get(key)
    if value is None and nullable:
        return None
    if value not in choices or isinstance(value, bool):
        raise ctx.fail(f"unknown {key} {value!r} (expected one of {', '.join(map(str, choices))})")
    return value


def _runbook(raw: Any, path: Path) -> Runbook:
    ctx = _Ctx(path.name)
    obj = _keys(raw, _RUNBOOK_KEYS, "runbook", ctx)
    runbook_id = _text(obj, "id", ctx)
    if not _RUNBOOK_ID.match(runbook_id):
        raise ctx.fail(f"runbook id {runbook_id!r} is not a valid identifier")
    if path.stem != runbook_id:
        raise ctx.fail(f"runbook id {runbook_id!r} must match the file name {path.stem!r}")
    gate = _choice(obj, "gate", GATE_NAMES, ctx, nullable=True)
    references = obj["references"]
    if not isinstance(references, list) or not all(isinstance(r, str) and r.strip() for r in references):
        raise ctx.fail("references must be a list of non-empty strings")
    raw_checklists = obj["checklists"]
    if not isinstance(raw_checklists, list) or not raw_checklists:
        raise ctx.fail("checklists must be a non-empty list")
    checklists: list[Checklist] = []
    for index, raw_checklist in enumerate(raw_checklists, 1):
        item = _checklist(raw_checklist, index, runbook_id, gate, path.name)
        if any(c.id == item.id for c in checklists):
            raise _Ctx(path.name, item.id).fail("duplicate checklist id")
        checklists.append(item)
    return Runbook(
        id=runbook_id,
        title=_text(obj, "title", ctx),
        purpose=_text(obj, "purpose", ctx),
        gate=gate,
        references=tuple(r.strip() for r in references),
        checklists=tuple(checklists),
        source=path.name,
    )


def _checklist(raw: Any, index: int, runbook_id: str, runbook_gate: str | None, file: str) -> Checklist:
    label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{index}"
    ctx = _Ctx(file, label)
    obj = _keys(raw, _CHECKLIST_KEYS, "checklist", ctx)
    checklist_id = _text(obj, "id", ctx)
    if not _SLUG.match(checklist_id):
        raise ctx.fail(f"checklist id {checklist_id!r} must be a slug [a-z][a-z0-9_]*")
    gate = _choice(obj, "gate", GATE_NAMES, ctx) if "gate" in obj else runbook_gate
    anchor = _text(obj, "anchor", ctx, nullable=True)
    if anchor is not None and not _ANCHOR.match(anchor):
        raise ctx.fail(f"anchor {anchor!r} must be [a-z0-9-]+")
    raw_steps = obj["steps"]
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ctx.fail("steps must be a non-empty list")
    steps: list[Step] = []
    for step_index, raw_step in enumerate(raw_steps, 1):
        step = _step(raw_step, step_index, file, checklist_id)
        if any(s.id == step.id for s in steps):
            raise _Ctx(file, checklist_id, step.id).fail("duplicate step id")
        steps.append(step)
    return Checklist(
        id=checklist_id,
        runbook=runbook_id,
        title=_text(obj, "title", ctx),
        gate=gate,
        anchor=anchor,
        steps=tuple(steps),
    )


def _step(raw: Any, index: int, file: str, checklist_id: str) -> Step:
    label = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{index}"
    ctx = _Ctx(file, checklist_id, label)
    obj = _keys(raw, _STEP_KEYS, "step", ctx)
    step_id = _text(obj, "id", ctx)
    if not _SLUG.match(step_id):
        raise ctx.fail(f"step id {step_id!r} must be a slug [a-z][a-z0-9_]*")
    raw_artefacts = obj["artefacts"]
    if not isinstance(raw_artefacts, list):
        raise ctx.fail("artefacts must be a list")
    artefacts: list[ArtefactSpec] = []
    for raw_artefact in raw_artefacts:
        a = _keys(raw_artefact, _ARTEFACT_KEYS, "artefact", ctx)
        name = _text(a, "name", ctx)
        if not _SLUG.match(name):
            raise ctx.fail(f"artefact name {name!r} must be a slug [a-z][a-z0-9_]*")
        if any(x.name == name for x in artefacts):
            raise ctx.fail(f"duplicate artefact {name!r}")
        if not isinstance(a["hash"], bool):
            raise ctx.fail(f"artefact {name}: hash must be true or false")
        artefacts.append(ArtefactSpec(name, _text(a, "description", ctx), a["hash"]))
    sprint = _choice(obj, "sprint", SPRINTS, ctx, nullable=True)
    gate_artefact = obj.get("gate_artefact", False)
    if not isinstance(gate_artefact, bool):
        raise ctx.fail("gate_artefact must be true or false")
    if gate_artefact and not artefacts:
        raise ctx.fail("gate_artefact is true but the step lists no artefacts")
    return Step(
        id=step_id,
        step=_text(obj, "step", ctx),
        responsible=_choice(obj, "responsible", ROLES, ctx),
        artefacts=tuple(artefacts),
        acceptance=_text(obj, "acceptance", ctx),
        command=_text(obj, "command", ctx, nullable=True),
        sprint=sprint,
        gate_artefact=gate_artefact,
    )


# ---- error location for parser errors ------------------------------------------------------------------
_LINE = re.compile(r"at line (\d+)")


def _where(data: bytes, message: str) -> str:
    """For a parser error that names a line, the "checklist X: step Y: " holding that line (else "")."""
    match = _LINE.search(message)
    if not match:
        return ""
    line = int(match.group(1)) - 1  # 0-based, as yaml marks
    try:
        root = yaml.compose(data, Loader=yaml.SafeLoader)  # nodes only: duplicate keys are not resolved
    except (yaml.YAMLError, RecursionError):
        return ""
    checklist_node = _last_covering(_seq(_get(root, "checklists")), line)
    if checklist_node is None:
        return ""
    where = f"checklist {_scalar(_get(checklist_node, 'id')) or '?'}: "
    step_node = _last_covering(_seq(_get(checklist_node, "steps")), line)
    if step_node is not None:
        where += f"step {_scalar(_get(step_node, 'id')) or '?'}: "
    return where


def _get(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value_node
    return None


def _seq(node: Any) -> list:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _scalar(node: Any) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _last_covering(nodes: list, line: int) -> Any:
    """The last node spanning `line` (a block node's end mark can sit on its successor's first line)."""
    found = None
    for node in nodes:
        if node.start_mark.line <= line <= node.end_mark.line:
            found = node
    return found


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
