"""Delivery reads, filtered to what the user may see: bundles are the vendor's, so a role sees all of them or
none (the rule ``bundle.view`` in delivery/rules.py: admin, engineer, auditor)."""

from __future__ import annotations

from pathlib import Path

from django.db.models import QuerySet

from audit.authorization import may
from audit.runbooks.model import load_runbooks

from .models import BundleBuild
from .services import EVIDENCE, build_report_path


def bundle_build_list_visible(*, user) -> QuerySet[BundleBuild]:
    if not may(user, "bundle.view"):
        return BundleBuild.objects.none()
    return BundleBuild.objects.select_related("created_by", "job", "acceptance_job")


def bundle_build_steps(build: BundleBuild) -> list[dict]:
    """The build report's steps as shown: name, status (done / placeholder / …), detail, artefact file."""
    steps = []
    for step in build.build_report.get("steps", []):
        artefact = step.get("artefact") or {}
        steps.append(
            {
                "name": step.get("name", ""),
                "status": step.get("status", ""),
                "detail": step.get("detail", ""),
                "artefact": Path(str(artefact.get("path", ""))).name if artefact else "",
                "sha384": artefact.get("sha384", "") if artefact else "",
            }
        )
    return steps


def bundle_build_files(build: BundleBuild) -> dict[str, dict]:
    """Downloadable files by key, each with the path and the SHA-384 it must still have when served."""
    if not build.bundle_dir:
        return {}
    bundle_dir = Path(build.bundle_dir)
    files = {"manifest.json": {"path": bundle_dir / "manifest.json", "sha384": build.fingerprint}}
    for name, digest in build.signatures.items():
        files[name] = {"path": bundle_dir / name, "sha384": digest}
    for step in build.build_report.get("steps", []):
        artefact = step.get("artefact") or {}
        path = Path(str(artefact.get("path", "")))
        if step.get("status") == "done" and path.name and path.name != "manifest.json":
            files[path.name] = {
                "path": build_report_path(bundle_dir).parent / path,
                "sha384": artefact.get("sha384"),
            }
    if build.ci_run_path and build.ci_run_sha384:
        files["ci_run.json"] = {"path": Path(build.ci_run_path), "sha384": build.ci_run_sha384}
    if build.acceptance_path and build.acceptance_sha384:
        files["acceptance.json"] = {"path": Path(build.acceptance_path), "sha384": build.acceptance_sha384}
    return files


def bundle_evidence_checklists() -> list[dict]:
    """Checklists with a step that asks for bundle evidence, for the attach form."""
    found = []
    for runbook in load_runbooks().values():
        for item in runbook.checklists:
            names = sorted({a.name for s in item.steps for a in s.artefacts if a.name in EVIDENCE})
            if names:
                found.append({"id": item.id, "title": item.title, "artefacts": names})
    return found
