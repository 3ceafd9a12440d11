"""Delivery writes: start a build or an acceptance (as jobs), record what they produced, attach a build to a
checklist as gate evidence. Each write the console offers asks `authorize(actor, ...)` (delivery/rules.py)
before any write; every write records its audit event in the same transaction. A refusal writes nothing.
The job's recorders (`bundle_build_record`, `bundle_build_fail`, `bundle_acceptance_*`) ask nothing: they
record what a job already authorized produced.

The bundle's files stay the truth: registering a build verifies the bundle (``manifest.sig``, every file's
size and SHA-384) with the bootstrap's own verifier, and attaching one re-checks ``manifest.json`` against the
recorded fingerprint first.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction

from audit.authorization import authorize
from audit.errors import Invalid, Refused
from audit.roles import roles_of
from audit.runbooks.model import RunbookError
from audit.runbooks.model import checklist as checklist_definition
from audit.selectors import deployment_list_visible
from audit.services import audit_event_record, checklist_attach
from audit.trust.canonical import StrictJSONError, strict_loads
from audit.trust.hashing import sha384_file
from jobs.services import job_create

from .models import AcceptanceStatus, BuildStatus, BundleBuild

BUILD_KIND = "bundle_build"
ACCEPTANCE_KIND = "oem_acceptance"
PLATFORMS = ("linux-x86_64", "windows-x86_64", "macos-arm64")
# Checklist artefacts a build can provide (runbooks OEM_INSTALLER_ACCEPTANCE, DEMO_PAPER_LIVE_CHECKLIST,
# paper_trading, offline_reinstall): value artefacts get the fingerprint, file artefacts the file itself.
EVIDENCE = (
    "bundle_fingerprint",
    "bundle_manifest",
    "bundle_manifest_signature",
    "oem_acceptance_report",
    "ci_run",
)


class DeliveryRefused(Invalid):
    """A delivery action that must not happen (400); the message is shown to the user as is."""


def bundles_root() -> Path:
    return Path(settings.OEM_DATA_DIR) / "bundles"


def build_report_path(bundle_dir: Path) -> Path:
    return bundle_dir.parent / f"{bundle_dir.name}.build_report.json"


def _audit(action: str, actor, build: BundleBuild, detail: dict, outcome: str = "ok") -> None:
    audit_event_record(
        action=action,
        actor=actor,
        outcome=outcome,
        object_type="bundle_build",
        object_id=build.pk,
        detail=detail,
    )


# -- builds -----------------------------------------------------------------------------------------------
@transaction.atomic
def bundle_build_start(*, platform: str, actor) -> BundleBuild:
    """Queue a build of ``platform`` from this checkout into ``OEM_DATA_DIR/bundles/``."""
    authorize(actor, "bundle.build")
    if platform not in PLATFORMS:
        raise DeliveryRefused(f"unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")
    build = BundleBuild.objects.create(platform=platform, created_by=actor)
    build.job = job_create(actor=actor, kind=BUILD_KIND, params={"build": build.pk})
    build.save(update_fields=["job"])
    _audit("bundle.build_start", actor, build, {"platform": platform})
    return build


def _verified(bundle_dir: Path):
    from deploy.packaging.bootstrap.verify import BundleRefused, verify_bundle

    try:
        return verify_bundle(bundle_dir)
    except BundleRefused as exc:
        raise DeliveryRefused(f"bundle refused: {exc}") from None


def _build_report(bundle_dir: Path, fingerprint: str) -> dict:
    path = build_report_path(bundle_dir)
    if not path.is_file():
        return {}
    try:
        report = strict_loads(path.read_bytes())
    except (OSError, StrictJSONError) as exc:
        raise DeliveryRefused(f"{path.name}: {exc}") from None
    if not isinstance(report, dict) or report.get("fingerprint") != fingerprint:
        raise DeliveryRefused(f"{path.name} does not describe this bundle (fingerprint differs)")
    return report


def _ci_run(path: Path, *, commit: str, fingerprint: str) -> str:
    """The record's ``sha384:`` once it is a valid ci_run record of the run that built this bundle."""
    from deploy.ci.record_run import RecordError, load_record

    try:
        record = load_record(path)
    except RecordError as exc:
        raise DeliveryRefused(f"CI run record: {exc}") from None
    if record["commit"] != commit:
        raise DeliveryRefused(f"CI run record: commit {record['commit']} is not the bundle's {commit}")
    if fingerprint not in {o["sha384"] for o in record["outputs"]}:
        raise DeliveryRefused("CI run record: none of its outputs is this bundle's manifest.json")
    return f"sha384:{sha384_file(path)}"


@transaction.atomic
def bundle_build_record(
    *, build: BundleBuild, bundle_dir: Path, actor=None, ci_run: Path | None = None
) -> BundleBuild:
    """Fill a build row from a bundle directory once the bundle (and its CI run record, if given) verify."""
    bundle_dir = Path(bundle_dir).resolve()
    verified = _verified(bundle_dir)
    if ci_run is not None:
        build.ci_run_path = str(Path(ci_run).resolve())
        build.ci_run_sha384 = _ci_run(Path(ci_run), commit=verified.commit, fingerprint=verified.fingerprint)
    build.platform = verified.platform
    build.bundle_version = verified.version
    build.commit = verified.commit
    build.fingerprint = verified.fingerprint
    build.bundle_dir = str(bundle_dir)
    build.build_report = _build_report(bundle_dir, verified.fingerprint)
    build.signatures = {
        name: f"sha384:{sha384_file(bundle_dir / name)}"
        for name in ("manifest.sig", "manifest.asc")
        if (bundle_dir / name).is_file()
    }
    build.status = BuildStatus.BUILT
    build.error = ""
    build.save()
    _audit(
        "bundle.register",
        actor or build.created_by,
        build,
        {"fingerprint": build.fingerprint, "commit": build.commit, "platform": build.platform},
    )
    return build


def bundle_build_register(*, bundle_dir: Path, actor, ci_run: Path | None = None) -> BundleBuild:
    """Make a bundle built elsewhere (the packaging pipeline, a vendor's workstation) known to the console,
    with the pipeline's CI run record when there is one."""
    authorize(actor, "bundle.register")
    with transaction.atomic():
        return bundle_build_record(
            build=BundleBuild(created_by=actor), bundle_dir=bundle_dir, actor=actor, ci_run=ci_run
        )


@transaction.atomic
def bundle_build_fail(*, build: BundleBuild, error: str) -> None:
    build.status = BuildStatus.FAILED
    build.error = error[:2000]
    build.save(update_fields=["status", "error"])
    _audit("bundle.build_failed", build.created_by, build, {"error": build.error}, outcome="failed")


# -- acceptance -------------------------------------------------------------------------------------------
@transaction.atomic
def bundle_acceptance_start(*, build: BundleBuild, actor, rebuild: bool = False, allow_virtual: bool = False):
    authorize(actor, "bundle.accept", build=build)
    if build.status != BuildStatus.BUILT:
        raise DeliveryRefused("only a built bundle can be accepted")
    if build.acceptance_status == AcceptanceStatus.RUNNING:
        raise DeliveryRefused("an acceptance of this bundle is already running")
    params = {"build": build.pk, "rebuild": bool(rebuild), "allow_virtual": bool(allow_virtual)}
    job = job_create(actor=actor, kind=ACCEPTANCE_KIND, params=params)
    build.acceptance_job = job
    build.acceptance_status = AcceptanceStatus.RUNNING
    build.save(update_fields=["acceptance_job", "acceptance_status"])
    _audit("bundle.acceptance_start", actor, build, {"rebuild": bool(rebuild), "job": job.pk})
    return job


@transaction.atomic
def bundle_acceptance_record(*, build: BundleBuild, path: Path, sha384: str, report: dict) -> None:
    build.acceptance_path = str(path)
    build.acceptance_sha384 = sha384
    build.acceptance_report = report
    build.acceptance_status = AcceptanceStatus.PASSED if report.get("passed") else AcceptanceStatus.FAILED
    build.save(
        update_fields=["acceptance_path", "acceptance_sha384", "acceptance_report", "acceptance_status"]
    )
    _audit(
        "bundle.acceptance",
        build.acceptance_job.created_by if build.acceptance_job else build.created_by,
        build,
        {"passed": bool(report.get("passed")), "sha384": sha384, "failed": report.get("failed_sections", [])},
        outcome="ok" if report.get("passed") else "failed",
    )


@transaction.atomic
def bundle_acceptance_fail(*, build: BundleBuild, error: str) -> None:
    build.acceptance_status = AcceptanceStatus.FAILED
    build.save(update_fields=["acceptance_status"])
    _audit("bundle.acceptance", build.created_by, build, {"error": error[:500]}, outcome="failed")


# -- gate evidence ----------------------------------------------------------------------------------------
def _evidence_files(build: BundleBuild) -> dict[str, Path]:
    bundle_dir = Path(build.bundle_dir)
    files = {
        "bundle_manifest": bundle_dir / "manifest.json",
        "bundle_manifest_signature": bundle_dir / "manifest.sig",
    }
    if build.acceptance_status == AcceptanceStatus.PASSED and build.acceptance_path:
        files["oem_acceptance_report"] = Path(build.acceptance_path)
    if build.ci_run_path:
        files["ci_run"] = Path(build.ci_run_path)
    return files


def _check_files(build: BundleBuild, files: dict[str, Path]) -> None:
    manifest = files["bundle_manifest"]
    if not manifest.is_file() or f"sha384:{sha384_file(manifest)}" != build.fingerprint:
        raise DeliveryRefused("manifest.json no longer matches this build's fingerprint")
    for name, recorded in (
        ("oem_acceptance_report", build.acceptance_sha384),
        ("ci_run", build.ci_run_sha384),
    ):
        path = files.get(name)
        if path is not None and (not path.is_file() or f"sha384:{sha384_file(path)}" != recorded):
            raise DeliveryRefused(f"{path.name} no longer matches its recorded SHA-384")


def bundle_build_attach(*, build: BundleBuild, deployment_id: int, checklist_id: str, actor) -> list:
    """Attach what the checklist's steps ask for (fingerprint, manifest, its signature, the acceptance report)
    to the steps the actor's role is responsible for. Returns the attachments made."""
    authorize(actor, "bundle.attach", build=build)
    # The deployment is a field of the form, not the page's object: an unknown one is a bad request (400).
    deployment = deployment_list_visible(user=actor).filter(pk=deployment_id).first()
    if deployment is None:
        raise DeliveryRefused("no such deployment")
    if build.status != BuildStatus.BUILT:
        raise DeliveryRefused("only a built bundle can be attached")
    try:
        definition = checklist_definition(checklist_id)
    except RunbookError as exc:
        raise DeliveryRefused(str(exc)) from None
    roles = set(roles_of(actor))
    files = _evidence_files(build)
    wanted = [
        (step, spec)
        for step in definition.steps
        if step.responsible in roles
        for spec in step.artefacts
        if spec.name in EVIDENCE and (spec.name in files if spec.hash else spec.name == "bundle_fingerprint")
    ]
    if not wanted:
        raise DeliveryRefused(f"checklist {checklist_id} has no bundle evidence your role attaches")
    _check_files(build, files)
    attached = []
    with transaction.atomic():
        for step, spec in wanted:
            on_step = {"deployment": deployment, "checklist_id": checklist_id, "step_id": step.id}
            try:
                if spec.hash:
                    with open(files[spec.name], "rb") as handle:
                        uploaded = File(handle, name=files[spec.name].name)
                        attached.append(
                            checklist_attach(actor=actor, **on_step, name=spec.name, uploaded=uploaded)
                        )
                else:
                    attached.append(
                        checklist_attach(actor=actor, **on_step, name=spec.name, value=build.fingerprint)
                    )
            except Refused as exc:
                raise DeliveryRefused(str(exc)) from None
        _audit(
            "bundle.attach",
            actor,
            build,
            {
                "deployment": deployment.pk,
                "checklist": checklist_id,
                "artefacts": [s.name for _, s in wanted],
            },
        )
    return attached
