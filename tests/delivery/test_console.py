"""The Bundles page and its services: who sees builds, steps and placeholders as recorded, downloads checked
against their hashes, the build and acceptance jobs, and a build attached to a checklist as gate evidence."""

from pathlib import Path

import pytest

from audit.errors import NotAllowed
from audit.models import AuditEvent, StepAttachment
from audit.roles import ROLES
from audit.trust.hashing import sha384_file
from delivery import services
from delivery.models import AcceptanceStatus, BuildStatus, BundleBuild
from jobs import services as job_services
from jobs.runner import run_job
from tests.delivery.bundles import build
from tests.factories import user_with_role
from tests.licensing.fakesys import build_machine

READERS = {"admin", "engineer", "auditor"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist") / "linux", packages=True)


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(job_services, "job_enqueue", lambda *, job_id: None)


@pytest.fixture
def registered(db, built):
    return services.bundle_build_register(bundle_dir=built.bundle_dir, actor=user_with_role("admin"))


@pytest.mark.parametrize("role", ROLES)
def test_the_bundles_page_is_for_admin_engineer_and_auditor_only(client, db, role):
    client.force_login(user_with_role(role))
    response = client.get("/bundles/")
    assert response.status_code == (200 if role in READERS else 403)
    assert (b'href="/bundles/"' in client.get("/").content) is (role in READERS)


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    assert client.get("/bundles/").status_code == 302


def test_a_registered_build_shows_fingerprint_commit_and_every_step_with_placeholders_as_such(
    client, registered, built
):
    assert registered.status == BuildStatus.BUILT and registered.fingerprint == built.fingerprint
    assert registered.commit == built.manifest["commit"]
    client.force_login(user_with_role("auditor"))
    page = client.get(f"/bundles/{registered.pk}/").content.decode()
    assert built.fingerprint in page and registered.commit in page
    placeholders = [s for s in registered.build_report["steps"] if s["status"] == "placeholder"]
    assert placeholders
    for step in placeholders:
        assert f'<tr class="step-placeholder"><td>{step["name"]}</td>' in page
    assert AuditEvent.objects.filter(action="bundle.register", object_id=str(registered.pk)).exists()


def test_downloads_are_served_only_while_they_match_their_recorded_hash(client, registered):
    from delivery.selectors import bundle_build_files

    client.force_login(user_with_role("engineer"))
    response = client.get(f"/bundles/{registered.pk}/files/manifest.json")
    assert response.status_code == 200
    manifest = Path(registered.bundle_dir) / "manifest.json"
    assert b"".join(response.streaming_content) == manifest.read_bytes()
    package = next(name for name in bundle_build_files(registered) if name.endswith(".tar.gz"))
    assert client.get(f"/bundles/{registered.pk}/files/{package}").status_code == 200
    assert client.get(f"/bundles/{registered.pk}/files/nope.bin").status_code == 404
    signature = client.get(f"/bundles/{registered.pk}/files/manifest.sig")
    assert (
        b"".join(signature.streaming_content) == (Path(registered.bundle_dir) / "manifest.sig").read_bytes()
    )
    client.force_login(user_with_role("operator"))
    assert client.get(f"/bundles/{registered.pk}/files/manifest.json").status_code == 403


def test_a_package_changed_on_disk_is_refused_with_409(client, db, built, tmp_path):
    import shutil

    dist = tmp_path / "dist"
    shutil.copytree(built.bundle_dir.parent, dist, symlinks=True)
    row = services.bundle_build_register(
        bundle_dir=dist / built.bundle_dir.name, actor=user_with_role("admin")
    )
    package = next(dist.glob("*.tar.gz"))
    package.write_bytes(package.read_bytes() + b"\0")
    client.force_login(user_with_role("admin"))
    assert client.get(f"/bundles/{row.pk}/files/{package.name}").status_code == 409


def test_registering_a_tampered_bundle_is_refused_and_records_nothing(db, built, tmp_path):
    import shutil

    copy = tmp_path / built.bundle_dir.name
    shutil.copytree(built.bundle_dir, copy, symlinks=True)
    (copy / "extra.txt").write_text("not in the manifest\n")
    with pytest.raises(services.DeliveryRefused, match="bundle refused"):
        services.bundle_build_register(bundle_dir=copy, actor=user_with_role("admin"))
    assert not BundleBuild.objects.exists()


def test_only_an_admin_builds_or_registers(db, built):
    with pytest.raises(NotAllowed):
        services.bundle_build_register(bundle_dir=built.bundle_dir, actor=user_with_role("engineer"))
    with pytest.raises(NotAllowed):
        services.bundle_build_start(platform="linux-x86_64", actor=user_with_role("auditor"))
    assert not BundleBuild.objects.exists()


def test_a_build_job_without_the_platform_wheels_fails_with_the_builders_line(
    db, no_broker, tmp_path, monkeypatch
):
    monkeypatch.setenv("OEM_WHEELHOUSE", str(tmp_path / "empty-wheelhouse"))
    (tmp_path / "empty-wheelhouse").mkdir()
    row = services.bundle_build_start(platform="windows-x86_64", actor=user_with_role("admin"))
    assert run_job(job_id=row.job_id) == "failed"
    row.refresh_from_db()
    assert row.status == BuildStatus.FAILED
    assert row.error.startswith("wheelhouse ") and "lacks" in row.error and "\n" not in row.error
    assert not (services.bundles_root() / "windows-x86_64" / f"build-{row.pk}").exists()


def test_the_acceptance_job_records_the_report_and_it_becomes_gate_evidence(
    registered, no_broker, tmp_path, monkeypatch, deployment
):
    build_machine(tmp_path / "machine")
    monkeypatch.setenv("OEM_FINGERPRINT_ROOT", str(tmp_path / "machine"))
    monkeypatch.setenv("OEM_ALLOW_DEVELOPMENT_LICENSES", "true")  # the license section signs with the dev key
    engineer = user_with_role("engineer", deployments=[deployment])
    job = services.bundle_acceptance_start(build=registered, actor=engineer)
    assert run_job(job_id=job.pk) == "succeeded"
    registered.refresh_from_db()
    assert registered.acceptance_status == AcceptanceStatus.PASSED
    assert [s["status"] for s in registered.acceptance_report["sections"]] == ["passed"] * 4
    attached = services.bundle_build_attach(
        build=registered, deployment_id=deployment.pk, checklist_id="installer_acceptance", actor=engineer
    )
    by_name = {a.name: a for a in attached}
    assert set(by_name) == {
        "bundle_manifest",
        "bundle_manifest_signature",
        "bundle_fingerprint",
        "oem_acceptance_report",
    }
    assert f"sha384:{by_name['bundle_manifest'].sha384}" == registered.fingerprint
    assert f"sha384:{by_name['oem_acceptance_report'].sha384}" == registered.acceptance_sha384
    assert by_name["bundle_fingerprint"].value == registered.fingerprint


def test_attaching_checks_the_role_the_deployment_and_the_manifest_first(
    registered, deployment, other_deployment
):
    engineer = user_with_role("engineer", deployments=[deployment])
    with pytest.raises(services.DeliveryRefused, match="no such deployment"):
        services.bundle_build_attach(
            build=registered, deployment_id=other_deployment.pk, checklist_id="paper_trading", actor=engineer
        )
    with pytest.raises(services.DeliveryRefused, match="no bundle evidence your role attaches"):
        services.bundle_build_attach(
            build=registered,
            deployment_id=deployment.pk,
            checklist_id="paper_trading",
            actor=user_with_role("admin"),
        )
    registered.fingerprint = "sha384:" + "0" * 96
    with pytest.raises(services.DeliveryRefused, match="no longer matches"):
        services.bundle_build_attach(
            build=registered, deployment_id=deployment.pk, checklist_id="paper_trading", actor=engineer
        )
    assert not StepAttachment.objects.exists()


def test_the_page_attaches_the_fingerprint_to_the_paper_checklist(client, registered, deployment):
    engineer = user_with_role("engineer", deployments=[deployment])
    client.force_login(engineer)
    response = client.post(
        f"/bundles/{registered.pk}/attach/", {"deployment": deployment.pk, "checklist": "paper_trading"}
    )
    assert (
        response.status_code == 302
        and response.url == f"/deployments/{deployment.pk}/checklists/paper_trading/"
    )
    attachment = StepAttachment.objects.get(name="bundle_fingerprint")
    assert attachment.step_id == "bundle_fingerprint" and attachment.value == registered.fingerprint
    assert AuditEvent.objects.filter(action="bundle.attach").exists()


def test_the_page_starts_an_acceptance_job_with_its_options(client, registered, no_broker):
    client.force_login(user_with_role("engineer"))
    response = client.post(f"/bundles/{registered.pk}/accept/", {"rebuild": "on", "allow_virtual": "on"})
    registered.refresh_from_db()
    assert response.status_code == 302 and response.url == f"/jobs/{registered.acceptance_job_id}/"
    assert registered.acceptance_status == AcceptanceStatus.RUNNING
    assert registered.acceptance_job.params == {
        "build": registered.pk,
        "rebuild": True,
        "allow_virtual": True,
    }
    again = client.post(f"/bundles/{registered.pk}/accept/", follow=True)
    assert b"already running" in again.content
    client.force_login(user_with_role("auditor"))
    assert client.post(f"/bundles/{registered.pk}/accept/").status_code == 403


def _ci_record(directory, *, commit, outputs):
    from deploy.ci import record_run

    record_run.start(job="oem_packaging_linux", run_id="77-1", commit=commit, directory=directory)
    path, _ = record_run.finish(directory=directory, outputs=outputs)
    return path


def test_a_bundle_registers_with_the_ci_run_record_of_the_run_that_built_it(client, db, built, tmp_path):
    commit = built.manifest["commit"]
    manifest = built.bundle_dir / "manifest.json"
    record = _ci_record(tmp_path / "ci", commit=commit, outputs=[f"manifest.json={manifest}"])
    admin = user_with_role("admin")
    row = services.bundle_build_register(bundle_dir=built.bundle_dir, actor=admin, ci_run=record)
    assert row.ci_run_sha384.startswith("sha384:")
    client.force_login(admin)
    response = client.get(f"/bundles/{row.pk}/files/ci_run.json")
    assert b"".join(response.streaming_content) == record.read_bytes()


def test_a_ci_run_record_of_another_commit_or_another_bundle_is_refused(db, built, tmp_path):
    manifest = built.bundle_dir / "manifest.json"
    other_commit = _ci_record(tmp_path / "a", commit="f" * 40, outputs=[f"manifest.json={manifest}"])
    other_bundle = _ci_record(tmp_path / "b", commit=built.manifest["commit"], outputs=[])
    admin = user_with_role("admin")
    with pytest.raises(services.DeliveryRefused, match="is not the bundle's"):
        services.bundle_build_register(bundle_dir=built.bundle_dir, actor=admin, ci_run=other_commit)
    with pytest.raises(services.DeliveryRefused, match="none of its outputs"):
        services.bundle_build_register(bundle_dir=built.bundle_dir, actor=admin, ci_run=other_bundle)
    assert not BundleBuild.objects.exists()


def test_a_build_job_builds_signs_and_records_the_bundle(client, db, no_broker, tmp_path, monkeypatch):
    from deploy.packaging import builder
    from tests.deploy.packaging.helpers import make_wheelhouse

    wheelhouse = make_wheelhouse(tmp_path / "inputs")
    monkeypatch.setenv("OEM_WHEELHOUSE", str(wheelhouse.path))
    monkeypatch.setattr(builder, "DEFAULT_REQUIREMENTS", wheelhouse.requirements)
    admin = user_with_role("admin")
    client.force_login(admin)
    response = client.post("/bundles/", {"platform": "linux-x86_64"})
    row = BundleBuild.objects.get()
    assert response.status_code == 302 and response.url == f"/bundles/{row.pk}/"
    assert run_job(job_id=row.job_id) == "succeeded"
    row.refresh_from_db()
    assert row.status == BuildStatus.BUILT and row.fingerprint.startswith("sha384:")
    assert Path(row.bundle_dir).parent == services.bundles_root() / "linux-x86_64" / f"build-{row.pk}"
    assert {s["status"] for s in row.build_report["steps"]} <= {"done", "placeholder"}
    assert row.job.result_files.get().sha384 == sha384_file(Path(row.bundle_dir + ".build_report.json"))
