"""The decision timeline, one log at a time, newest first, a page at a time.

Entries are read from the verified report by position (a page costs its 50 entries, not the log), and
`?seq=N` jumps to the page holding seq N. Only digits are accepted for numbers; anything else is page 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.trust.paths import LOG_NAMES
from audit.trust.verifier import VerificationReport, VerifiedEntry

PAGE_SIZE = 50
_MAX_DIGITS = 12

# What a signature in a decision entry means, shown beside the signer's name.
ROLE_MEANINGS = {
    "owner": "approved as product owner",
    "compliance": "approved as compliance officer",
    "engineer": "performed as engineer",
}


@dataclass(frozen=True)
class TimelinePage:
    log: str
    counts: list[tuple[str, int]]  # every log with its number of verified entries
    entries: list[dict]
    number: int
    pages: int
    seq: int | None  # the seq jumped to, when it exists
    not_found: str | None  # why a requested seq was not shown

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        return None
    return int(text)


def timeline_page(
    report: VerificationReport, *, log: str | None, page: str | None, seq: str | None
) -> TimelinePage:
    counts = [(name, len(report.logs.get(name, ()))) for name in LOG_NAMES]
    if log not in LOG_NAMES:
        with_entries = [name for name, count in counts if count]
        log = with_entries[-1] if with_entries else LOG_NAMES[0]
    entries = report.logs.get(log, ())
    total = len(entries)
    pages = max(1, -(-total // PAGE_SIZE))
    number = min(max(_number(page) or 1, 1), pages)
    wanted, not_found = _number(seq), None
    if seq:
        if wanted is not None and 1 <= wanted <= total:
            number = (total - wanted) // PAGE_SIZE + 1
        else:
            wanted, not_found = None, f"no verified entry with seq {seq[:20]} in the {log} log"
    newest = total - (number - 1) * PAGE_SIZE
    shown = [entries[i] for i in range(newest - 1, max(newest - PAGE_SIZE, 0) - 1, -1)]
    return TimelinePage(log, counts, [_row(e) for e in shown], number, pages, wanted, not_found)


def _row(entry: VerifiedEntry) -> dict:
    return {
        "log": entry.log,
        "line": entry.line,
        "seq": entry.entry["seq"],
        "timestamp": entry.timestamp,
        "stage": entry.stage,
        "status": entry.status,
        "artefacts": entry.entry["artefacts"],
        "flags": entry.entry["runtime_flags"],
        "signatures": [
            {
                "role": role,
                "user": user,
                "meaning": ROLE_MEANINGS.get(role, role),
                "kid": entry.signer_kids[role],
            }
            for role, user in sorted(entry.signers.items())
        ],
    }
