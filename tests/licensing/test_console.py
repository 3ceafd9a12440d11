"""Console flow: a device request taken to an activated license entirely offline, on a fake system tree.

The device side runs the pure CLIs (licensing.core.cli) against the same data directory and fake machine as
the console, so console and command line share one registry, CRL and key ring.
"""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from licensing import services
from licensing.core import qr
from licensing.core.cli import activate_license_main, license_request_main, verify_license_registry_main
from licensing.core.crl import load_crl
from licensing.core.license_file import from_qr_text, parse_license
from licensing.core.registry import Registry, crl_path, registry_path
from licensing.models import Customer, License, LicenseRequest, RequestStatus
from licensing.services import licenses as license_services
from tests.factories import ensure_roles, user_with_role
from tests.licensing.fakesys import make_vm
from tests.trust_setup import installed

pytestmark = pytest.mark.django_db

APPROVE = {
    "edition": "standard",
    "features": "paper-labs",
    "stages": ["demo", "paper"],
    "valid_days": "30",
    "max_activations": "1",
}


@pytest.fixture(autouse=True)
def roles(db):
    ensure_roles()


@pytest.fixture
def admin(roles):
    return user_with_role("admin")


@pytest.fixture
def customer(admin) -> Customer:
    return services.customer_create(actor=admin, name="ACME Trading")


@pytest.fixture
def request_file(tmp_path, capsys):
    path = tmp_path / "req.json"
    assert license_request_main(["--out", str(path)]) == 0
    capsys.readouterr()
    return path


@pytest.fixture
def pending(customer, admin, request_file) -> LicenseRequest:
    return services.license_request_upload(
        actor=admin, request_bytes=request_file.read_bytes(), customer=customer
    )


def _issue(pending, admin, **overrides) -> License:
    terms = {"stages": ["demo", "paper"], "valid_days": 30, "max_activations": 1, "actor": admin}
    return services.license_issue(request=pending, **{**terms, **overrides})


def test_request_to_activated_license_in_the_console(client, admin, customer, request_file, tmp_path, capsys):
    client.force_login(admin)
    assert "ACME Trading" in client.get("/licensing/").content.decode()

    with request_file.open("rb") as fh:
        response = client.post(
            f"/licensing/customers/{customer.pk}/upload/", {"request_file": fh, "label": "box-1"}
        )
    req = LicenseRequest.objects.get()
    assert response.status_code == 302 and response.url == f"/licensing/requests/{req.pk}/"
    assert req.status == RequestStatus.PENDING and not req.foreign
    assert json.loads(request_file.read_bytes())["request_digest"] == req.request_digest
    waiting = client.get("/licensing/requests/").content.decode()
    assert req.request_digest[:20] in waiting
    assert 'data-testid="approve-form"' in client.get(f"/licensing/requests/{req.pk}/").content.decode()

    response = client.post(f"/licensing/requests/{req.pk}/approve/", APPROVE)
    assert response.status_code == 302 and response.url == "/licensing/licenses/1/"
    lic = License.objects.get(serial=1)
    assert (lic.status, lic.stages, lic.features, lic.request_id) == (
        "active",
        ["demo", "paper"],
        ["paper-labs"],
        req.pk,
    )
    assert lic.file_path.endswith("/licenses/issued/1.json")
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED and req.decided_by == admin
    assert AuditEvent.objects.filter(action="license.issue", object_id="1", user=admin).exists()

    download = client.get("/licensing/licenses/1/license.json")
    assert download.status_code == 200 and download["Content-Disposition"].endswith('license-1.json"')
    (tmp_path / "license.json").write_bytes(download.content)
    png = client.get("/licensing/licenses/1/qr.png?download=1")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    (tmp_path / "license.png").write_bytes(png.content)
    assert from_qr_text(qr.read_png(tmp_path / "license.png")).to_bytes() == download.content

    # On the device (same fake machine, same data directory): activate from the downloaded QR code.
    assert activate_license_main(["--qr", str(tmp_path / "license.png"), "--stage", "paper"]) == 0
    assert "activated license serial 1 for ACME Trading" in capsys.readouterr().out
    page = client.get("/licensing/licenses/1/").content.decode()
    assert 'data-testid="license-status">Active' in page
    assert "live, 1 active activation" in page
    assert verify_license_registry_main([]) == 0
    registry_page = client.get("/licensing/registry/").content.decode()
    assert "Verified: 2 entries, 1 license (1 live)" in registry_page


def test_operator_and_engineer_cannot_approve_and_see_no_customer(client, pending):
    for role in ("operator", "engineer"):
        client.force_login(user_with_role(role))
        assert client.post(f"/licensing/requests/{pending.pk}/approve/", APPROVE).status_code == 403
        assert client.post(f"/licensing/requests/{pending.pk}/reject/", {"reason": "no"}).status_code == 403
        assert client.get(f"/licensing/requests/{pending.pk}/").status_code == 404
        assert client.get(f"/licensing/customers/{pending.device.customer_id}/").status_code == 404
        assert "ACME Trading" not in client.get("/licensing/").content.decode()
        assert client.get("/licensing/registry/").status_code == 403
    assert not License.objects.exists() and not registry_path().exists()


def test_an_admin_who_does_not_manage_the_customer_gets_404(client, pending, admin):
    other = user_with_role("admin")
    client.force_login(other)
    assert "ACME Trading" not in client.get("/licensing/").content.decode()
    assert client.get(f"/licensing/customers/{pending.device.customer_id}/").status_code == 404
    assert client.get(f"/licensing/requests/{pending.pk}/").status_code == 404
    assert client.post(f"/licensing/requests/{pending.pk}/approve/", APPROVE).status_code == 404
    lic = _issue(pending, admin)
    assert client.get(f"/licensing/licenses/{lic.serial}/").status_code == 404
    assert client.get(f"/licensing/licenses/{lic.serial}/license.json").status_code == 404
    assert client.post(f"/licensing/licenses/{lic.serial}/revoke/", {"reason": "x"}).status_code == 404
    # Once assigned, the same admin manages it.
    services.customer_assign_admin(actor=admin, customer=pending.device.customer, admin=other)
    assert client.get(f"/licensing/licenses/{lic.serial}/").status_code == 200


def test_auditor_reads_everything_and_changes_nothing(client, pending, admin):
    lic = _issue(pending, admin)
    client.force_login(user_with_role("auditor"))
    assert "ACME Trading" in client.get("/licensing/").content.decode()
    page = client.get(f"/licensing/licenses/{lic.serial}/").content.decode()
    assert "Revoke license" not in page
    assert client.get(f"/licensing/licenses/{lic.serial}/license.json").status_code == 200
    assert client.get("/licensing/registry/").status_code == 200
    assert client.post(f"/licensing/licenses/{lic.serial}/revoke/", {"reason": "x"}).status_code == 403
    assert client.post("/licensing/registry/reconcile/").status_code == 403
    assert client.post("/licensing/", {"name": "Evil"}).status_code == 403
    assert License.objects.get().status == "active"


def test_revoke_publishes_a_crl_and_activation_then_fails(client, pending, admin, tmp_path, capsys):
    lic = _issue(pending, admin)
    (tmp_path / "license.json").write_bytes(open(lic.file_path, "rb").read())
    assert activate_license_main([str(tmp_path / "license.json")]) == 0
    client.force_login(admin)
    response = client.post(f"/licensing/licenses/{lic.serial}/revoke/", {"reason": "customer left"})
    assert response.status_code == 302
    lic.refresh_from_db()
    assert (lic.status, lic.revoked_reason) == ("revoked", "customer left")
    assert load_crl(crl_path()).serials == frozenset({lic.serial})
    assert AuditEvent.objects.filter(action="license.revoke", object_id=str(lic.serial)).exists()
    capsys.readouterr()
    assert activate_license_main([str(tmp_path / "license.json")]) == 1
    err = capsys.readouterr().err
    assert f"license serial {lic.serial} is revoked" in err and err.count("\n") == 1
    assert "Revoked" in client.get(f"/licensing/licenses/{lic.serial}/").content.decode()


def test_a_tampered_registry_is_shown_as_not_verified(client, pending, admin):
    _issue(pending, admin)
    client.force_login(admin)
    assert 'class="verified"' in client.get("/licensing/registry/").content.decode()
    path = registry_path()
    path.write_bytes(path.read_bytes().replace(b'"edition":"standard"', b'"edition":"premium!"', 1))
    page = client.get("/licensing/registry/").content.decode()
    assert "NOT VERIFIED" in page and "registry.jsonl:1:" in page
    assert 'class="verified"' not in page
    with pytest.raises(services.LicensingError, match="registry does not verify"):
        services.license_revoke(actor=admin, license=License.objects.get(), reason="test")
    assert License.objects.get().status == "active"


def test_a_foreign_request_needs_its_digest_confirmed(client, customer, admin, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "device"))  # the device is another installation
    installed(tmp_path / "device")
    assert license_request_main(["--out", str(tmp_path / "foreign.json")]) == 0
    monkeypatch.setenv("OEM_DATA_DIR", str(tmp_path / "var"))
    digest = json.loads((tmp_path / "foreign.json").read_bytes())["request_digest"]
    client.force_login(admin)
    url = f"/licensing/customers/{customer.pk}/upload/"
    with (tmp_path / "foreign.json").open("rb") as fh:
        page = client.post(url, {"request_file": fh}, follow=True).content.decode()
    assert f"confirm digest {digest} with the device" in page
    assert not LicenseRequest.objects.exists()
    with (tmp_path / "foreign.json").open("rb") as fh:
        client.post(url, {"request_file": fh, "confirm_digest": "sha384:" + "0" * 96})
    assert not LicenseRequest.objects.exists()
    with (tmp_path / "foreign.json").open("rb") as fh:
        client.post(url, {"request_file": fh, "confirm_digest": digest})
    req = LicenseRequest.objects.get()
    assert (
        req.foreign
        and "another installation" in client.get(f"/licensing/requests/{req.pk}/").content.decode()
    )
    assert client.post(f"/licensing/requests/{req.pk}/approve/", APPROVE).status_code == 302
    assert parse_license(open(License.objects.get().file_path, "rb").read()).request_digest == digest


def test_a_virtual_device_needs_explicit_approval(client, customer, admin, machine, tmp_path):
    make_vm(machine)
    assert license_request_main(["--out", str(tmp_path / "vm.json")]) == 0
    req = services.license_request_upload(
        actor=admin, request_bytes=(tmp_path / "vm.json").read_bytes(), customer=customer
    )
    client.force_login(admin)
    response = client.post(f"/licensing/requests/{req.pk}/approve/", APPROVE)
    assert response.status_code == 400 and "allow virtual environments" in response.content.decode()
    assert not registry_path().exists()
    assert (
        client.post(f"/licensing/requests/{req.pk}/approve/", {**APPROVE, "allow_virtual": "on"}).status_code
        == 302
    )
    assert License.objects.get().allow_virtual is True


def test_reject_a_request(client, pending, admin):
    client.force_login(admin)
    client.post(f"/licensing/requests/{pending.pk}/reject/", {"reason": "unknown device"})
    pending.refresh_from_db()
    assert (pending.status, pending.decision_reason) == ("rejected", "unknown device")
    assert client.post(f"/licensing/requests/{pending.pk}/approve/", APPROVE).status_code == 400
    assert not registry_path().exists()


def test_without_the_switch_the_development_key_is_refused_and_nothing_written(
    client, pending, admin, monkeypatch
):
    """Fails when services.allow_development_keys stops reading OEM_ALLOW_DEVELOPMENT_LICENSES."""
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")
    client.force_login(admin)
    response = client.post(f"/licensing/requests/{pending.pk}/approve/", APPROVE)
    assert response.status_code == 400 and "development key" in response.content.decode()
    assert not registry_path().exists() and not License.objects.exists()
    assert not (registry_path().parent / "issued").exists()
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING


def test_a_database_failure_after_the_registry_append_is_repaired_by_reconcile(
    client, pending, admin, monkeypatch
):
    real = license_services.audit_event_record

    def failing(**kwargs):
        if kwargs["action"] == "license.issue":
            raise RuntimeError("database is locked")
        return real(**kwargs)

    monkeypatch.setattr(license_services, "audit_event_record", failing)
    with pytest.raises(services.LicenseMirrorError, match="serial 1 is recorded in the registry"):
        _issue(pending, admin)
    monkeypatch.setattr(license_services, "audit_event_record", real)
    assert not License.objects.exists()
    assert 1 in Registry(registry_path()).read_state().licenses
    client.force_login(admin)
    page = client.get("/licensing/registry/").content.decode()
    assert "Not yet in the console: 1" in page
    client.post("/licensing/registry/reconcile/")
    lic = License.objects.get(serial=1)
    assert lic.imported and lic.request == pending and lic.device == pending.device
    pending.refresh_from_db()
    assert pending.status == RequestStatus.APPROVED
    assert (
        open(lic.file_path, "rb").read()
        == Registry(registry_path()).read_state().licenses[1].license.to_bytes()
    )
    assert client.get("/licensing/licenses/1/license.json").status_code == 200
    assert "Not yet in the console" not in client.get("/licensing/registry/").content.decode()


def test_a_changed_license_file_is_not_served(client, pending, admin):
    lic = _issue(pending, admin)
    with open(lic.file_path, "ab") as fh:
        fh.write(b" ")
    client.force_login(admin)
    assert client.get(f"/licensing/licenses/{lic.serial}/license.json").status_code == 409
    assert client.get(f"/licensing/licenses/{lic.serial}/qr.png").status_code == 409


def test_reissue_supersedes_the_old_license(client, pending, admin, request_file, capsys):
    old = _issue(pending, admin)
    assert license_request_main(["--out", str(request_file)]) == 0  # a new request from the same device
    new_req = services.license_request_upload(
        actor=admin, request_bytes=request_file.read_bytes(), customer=pending.device.customer
    )
    client.force_login(admin)
    response = client.post(f"/licensing/requests/{new_req.pk}/approve/", APPROVE)
    assert response.status_code == 400 and "already holds live license 1" in response.content.decode()
    client.post(f"/licensing/requests/{new_req.pk}/approve/", {**APPROVE, "reissue": "on"})
    old.refresh_from_db()
    assert old.status == "superseded" and License.objects.get(serial=2).replaces == old
    assert load_crl(crl_path()).serials == frozenset({1})


def test_every_page_shows_a_red_banner_while_development_licenses_are_accepted(client, admin, monkeypatch):
    """Fails when the development_licenses context processor or the base template line is removed."""
    assert 'data-testid="dev-license-banner"' in client.get("/", follow=True).content.decode()  # login page
    client.force_login(admin)
    for url in ("/licensing/", "/"):
        assert 'data-testid="dev-license-banner"' in client.get(url, follow=True).content.decode()
    monkeypatch.delenv("OEM_ALLOW_DEVELOPMENT_LICENSES")
    for url in ("/licensing/", "/"):
        assert "dev-license-banner" not in client.get(url, follow=True).content.decode()


def test_the_chosen_match_policy_is_signed_into_the_license_and_shown(client, admin, pending):
    """Fails when license_issue drops match_policy or the license page stops showing it."""
    client.force_login(admin)
    response = client.post(
        f"/licensing/requests/{pending.pk}/approve/", {**APPROVE, "match_policy": "machine_id+cpu"}
    )
    assert response.status_code == 302, response.content.decode()[-400:]
    lic = License.objects.get()
    signed = parse_license((registry_path().parent / "issued" / "1.json").read_bytes())
    assert lic.match_policy == signed.match_policy.name == "machine_id+cpu"
    page = client.get(f"/licensing/licenses/{lic.serial}/").content.decode()
    assert 'data-testid="match-policy">machine_id+cpu<' in page


def test_an_approval_that_died_before_its_intent_was_removed_is_finished_by_approving_again(
    client, admin, pending, monkeypatch
):
    """Fails when license_issue appends anew instead of finishing its own pending intent (the retry would be
    refused: "device already holds live license 1")."""
    from licensing.core import intent

    class Crash(BaseException):
        pass

    def crash(step):
        if step == "before removing the intent":
            raise Crash(step)

    monkeypatch.setattr(intent, "crash_point", crash)
    client.force_login(admin)
    with pytest.raises(Crash):
        client.post(f"/licensing/requests/{pending.pk}/approve/", APPROVE)
    monkeypatch.setattr(intent, "crash_point", lambda step: None)
    assert not License.objects.exists()  # the database transaction rolled back
    response = client.post(f"/licensing/requests/{pending.pk}/approve/", APPROVE)
    assert response.status_code == 302, response.content.decode()[-300:]
    assert list(License.objects.values_list("serial", flat=True)) == [1]
    assert [s for s in Registry(registry_path()).read_state().licenses] == [1]
    assert not (registry_path().parent / "intent.json").exists()
