"""Built-in job kinds. Other apps register theirs from their own AppConfig.ready()."""

import hashlib
import os
import time
from pathlib import Path

from django.conf import settings

from .registry import register

HASH_CHUNK = 1 << 20


def uploads_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def hash_artefact(ctx) -> None:
    """SHA-384 of an uploaded artefact, in chunks, reporting progress. `throttle_ms` spares the disk of a
    busy operator box by pausing between chunks."""
    root = uploads_root().resolve()
    path = (root / ctx.params["path"]).resolve()
    if root not in path.parents:
        raise ValueError("artefact path escapes the uploads folder")
    throttle = max(0, int(ctx.params.get("throttle_ms", 0))) / 1000.0
    chunk_size = int(ctx.params.get("chunk_bytes", HASH_CHUNK))
    size = os.path.getsize(path)
    hasher = hashlib.sha384()
    done = 0
    ctx.progress(0)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            hasher.update(chunk)
            done += len(chunk)
            ctx.progress(100 * done / size if size else 99)
            if throttle:
                time.sleep(throttle)
    digest = hasher.hexdigest()
    ctx.log(f"sha384:{digest} over {size} bytes")
    ctx.add_result_file(
        name=ctx.params.get("name") or path.name,
        path=str(path.relative_to(root)),
        size=size,
        sha384=digest,
    )


def sweep_uploads(ctx) -> None:
    from .services import upload_sweep

    result = upload_sweep()
    ctx.log(", ".join(f"{key}: {value} removed" for key, value in sorted(result.items())))
    ctx.progress(100)


AUDIT_TRAIL_CHECK_KIND = "audit_trail_full_check"


def audit_trail_full_check(ctx) -> None:
    """Re-check the whole audit trail from its first event; the verdict and its time show on /audit/."""
    from audit.services.trail_check import audit_trail_full_check as full_check

    ctx.progress(0)
    status = full_check(actor=ctx.job.created_by)
    ctx.log(
        f"audit trail {'intact' if not status.problems else 'BROKEN'}: events 1-{status.head}, "
        f"{len(status.problems)} problem(s)"
    )
    for problem in status.problems[:20]:
        ctx.log(problem)


def register_builtin_kinds() -> None:
    register("hash_artefact", "Hash an uploaded artefact (SHA-384)", hash_artefact)
    register("sweep_uploads", "Remove uploaded files no record refers to", sweep_uploads)
    register(AUDIT_TRAIL_CHECK_KIND, "Re-check the whole audit trail", audit_trail_full_check)
