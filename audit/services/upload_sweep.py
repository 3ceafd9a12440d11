"""Removal of evidence uploads no row refers to (a request that died between writing the file and
committing its row, a row removed by hand). Only the upload layout is touched,
`audit/artefacts/<checklist>/<32 hex>/<file>` under each evidence directory, and only files older than the
grace period: an upload in flight has its file before its row."""

import os
import re
import time
from pathlib import Path

from django.conf import settings

from audit.models import Deployment, StepAttachment

UPLOAD_FOLDER = re.compile(r"^[0-9a-f]{32}\Z")


def stale(path: Path, now: float) -> bool:
    try:
        return now - path.lstat().st_mtime > settings.OEM_ORPHAN_UPLOAD_GRACE_SECONDS
    except OSError:
        return False


def remove_orphan(path: Path, stop_at: Path) -> None:
    """Unlink the file and the now empty folders above it, up to (not including) `stop_at`."""
    path.unlink(missing_ok=True)
    folder = path.parent
    while folder != stop_at and stop_at in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def evidence_upload_orphans(now: float | None = None) -> list[Path]:
    now = time.time() if now is None else now
    referenced: dict[Path, set[str]] = {}
    for deployment in Deployment.objects.all():
        referenced.setdefault(deployment.evidence_dir, set())
    for attachment in StepAttachment.objects.exclude(path="").select_related("checklist__deployment"):
        referenced.setdefault(attachment.checklist.deployment.evidence_dir, set()).add(attachment.path)
    orphans = []
    for evidence_dir, paths in referenced.items():
        root = evidence_dir / "audit" / "artefacts"
        if not root.is_dir():
            continue
        for checklist_dir in root.iterdir():
            if not checklist_dir.is_dir() or checklist_dir.is_symlink():
                continue
            for upload_dir in checklist_dir.iterdir():
                if (
                    not UPLOAD_FOLDER.match(upload_dir.name)
                    or not upload_dir.is_dir()
                    or upload_dir.is_symlink()
                ):
                    continue
                for entry in os.scandir(upload_dir):
                    file = Path(entry.path)
                    relative = file.relative_to(evidence_dir).as_posix()
                    if entry.is_file(follow_symlinks=False) and relative not in paths and stale(file, now):
                        orphans.append(file)
    return orphans


def evidence_upload_sweep(now: float | None = None) -> int:
    removed = 0
    for orphan in evidence_upload_orphans(now):
        remove_orphan(orphan, orphan.parents[2])
        removed += 1
    return removed
