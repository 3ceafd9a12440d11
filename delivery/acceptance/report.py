"""The acceptance report: sections of checks, each ``passed`` / ``failed`` / ``placeholder``.

A ``placeholder`` check is a step that cannot be done on this machine (Authenticode with an EV certificate,
``codesign``, notarization): it is shown as such and never counts as passed. A section is ``failed`` when any
of its checks failed, ``placeholder`` when all of them are placeholders, else ``passed``. The report passes
only when no section failed. Written as RFC 8785 canonical JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from audit.trust.canonical import canonical_bytes
from audit.trust.fsutil import atomic_write_bytes
from audit.trust.hashing import sha384_bytes, sha384_file

SCHEMA = "oem/acceptance-report/v1"
PASSED, FAILED, PLACEHOLDER = "passed", "failed", "placeholder"
STATUSES = (PASSED, FAILED, PLACEHOLDER)
SECTIONS = ("bundle", "license", "paper_labs", "mtls")


@dataclass
class Section:
    name: str
    checks: list[dict] = field(default_factory=list)
    artefacts: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def check(self, name: str, status: str, detail: str) -> bool:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.checks.append({"name": name, "status": status, "detail": " ".join(str(detail).split())})
        return status == PASSED

    def passed(self, name: str, detail: str) -> bool:
        return self.check(name, PASSED, detail)

    def failed(self, name: str, detail: str) -> bool:
        return self.check(name, FAILED, detail)

    def artefact(self, name: str, path: Path) -> None:
        """Record a produced file by name and SHA-384 (only its file name: the folder is throw-away)."""
        path = Path(path)
        if path.is_file():
            self.artefacts.append(
                {
                    "name": name,
                    "path": path.name,
                    "size": path.stat().st_size,
                    "sha384": f"sha384:{sha384_file(path)}",
                }
            )

    @property
    def status(self) -> str:
        statuses = {c["status"] for c in self.checks}
        if FAILED in statuses or not statuses:
            return FAILED
        return PLACEHOLDER if statuses == {PLACEHOLDER} else PASSED

    def as_dict(self) -> dict:
        status = self.status
        reasons = [f"{c['name']}: {c['detail']}" for c in self.checks if c["status"] == FAILED]
        reasons += [
            f"{c['name']} (placeholder): {c['detail']}" for c in self.checks if c["status"] == PLACEHOLDER
        ]
        if not self.checks:
            reasons.append("no check ran")
        return {
            "name": self.name,
            "status": status,
            "reasons": reasons,
            "notes": list(self.notes),
            "checks": list(self.checks),
            "artefacts": list(self.artefacts),
        }


def build_report(
    *, bundle: dict, sections: list[Section], started: str, finished: str, options: dict
) -> dict:
    rendered = [s.as_dict() for s in sections]
    failed = [s["name"] for s in rendered if s["status"] == FAILED]
    return {
        "schema": SCHEMA,
        "bundle": bundle,
        "sections": rendered,
        "placeholders": [
            f"{s['name']}: {c['name']}" for s in rendered for c in s["checks"] if c["status"] == PLACEHOLDER
        ],
        "failed_sections": failed,
        "passed": not failed,
        "options": options,
        "started": started,
        "finished": finished,
    }


def write_report(path: Path, report: dict) -> str:
    """Write atomically; returns ``sha384:<hex>`` of the bytes written."""
    data = canonical_bytes(report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    return f"sha384:{sha384_bytes(data)}"
