"""Bounded storage of uploaded files: a per-file cap and a per-deployment quota, both enforced while the bytes
are copied in, chunk by chunk. An upload over either limit is refused with one line and leaves nothing: the
partial file is removed before the refusal is raised.

Usage is what is on disk in the deployment's upload folders (the files are the truth, including anything not
yet swept), so the quota holds whichever app stored the bytes."""

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from audit.errors import TooLarge
from audit.trust.fsutil import fsync_dir

# Folders, relative to a deployment's evidence directory, that hold what users upload.
EVIDENCE_UPLOAD_FOLDERS = (Path("audit") / "artefacts",)
# Uploads to be hashed by a job live under MEDIA_ROOT/artefacts/<owner>/ (owner: "d<id>" or "none").
JOB_UPLOAD_FOLDER = "artefacts"


class UploadRefused(TooLarge):
    """An upload over the per-file cap or the deployment's quota (413). A service raising it lets it
    propagate like any refusal (the API handler and `refusal_response` answer it)."""

    code = "upload_too_large"


def upload_refused_response(request, message: str):
    """The 413 of the streaming cap, which refuses the body in a middleware, before the session, the user
    and the page templates exist: the JSON error shape for the API, one plain line for pages."""
    if request.path.startswith("/api/"):
        body = {"error": {"code": UploadRefused.code, "message": message}}
        return JsonResponse(body, status=UploadRefused.status)
    return HttpResponse(message + "\n", status=UploadRefused.status, content_type="text/plain; charset=utf-8")


def max_upload_bytes() -> int:
    return int(settings.OEM_MAX_UPLOAD_BYTES)


def quota_bytes() -> int:
    return int(settings.OEM_DEPLOYMENT_QUOTA_BYTES)


def _mb(value: int) -> str:
    return f"{value / (1024 * 1024):.0f} MB" if value >= 1024 * 1024 else f"{value} bytes"


def job_upload_owner(deployment) -> str:
    return f"d{int(deployment.pk)}" if deployment is not None else "none"


def upload_folders(deployment) -> list[Path]:
    """Every folder whose bytes count against `deployment`'s quota (None: uploads with no deployment)."""
    folders = [Path(settings.MEDIA_ROOT) / JOB_UPLOAD_FOLDER / job_upload_owner(deployment)]
    if deployment is not None:
        folders += [deployment.evidence_dir / folder for folder in EVIDENCE_UPLOAD_FOLDERS]
    return folders


def bytes_used(deployment) -> int:
    total = 0
    for folder in upload_folders(deployment):
        for root, _dirs, files in os.walk(folder):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue  # removed while counting
    return total


def store_upload(uploaded, target: Path, *, deployment) -> tuple[str, int]:
    """Copy `uploaded` to `target` (created exclusively), hashing as it goes; returns (sha384 hex, size).
    Stops at the first chunk past the per-file cap or the deployment's remaining quota."""
    cap = max_upload_bytes()
    remaining = quota_bytes() - bytes_used(deployment)
    if remaining <= 0:
        raise UploadRefused(
            f"upload refused: the deployment's storage quota of {_mb(quota_bytes())} is used up"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    hasher, size = hashlib.sha384(), 0
    try:
        with open(target, "xb") as handle:
            for chunk in uploaded.chunks():
                size += len(chunk)
                if size > cap:
                    raise UploadRefused(f"upload refused: a file may be at most {_mb(cap)}")
                if size > remaining:
                    raise UploadRefused(
                        f"upload refused: over the deployment's storage quota of {_mb(quota_bytes())}"
                    )
                hasher.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        discard_upload(target)
        raise
    fsync_dir(target.parent)
    return hasher.hexdigest(), size


def discard_upload(target: Path) -> None:
    """Remove a stored upload and its (per-upload, random) folder if that is now empty."""
    target.unlink(missing_ok=True)
    try:
        target.parent.rmdir()
    except OSError:
        pass
