"""Writes stay short: unlocking a signer key (scrypt), checking a password, hashing an upload and rendering
a PDF happen outside any database transaction, so a slow signature never holds the database's write lock
(SQLite has one for the whole file)."""

from __future__ import annotations

import pytest
from django.db import connection

import audit.services.checklists as checklists_service
import audit.services.gate_decisions as gate_service
import audit.trust.keyring as keyring_module
from audit.models import DecisionProposal, Deployment
from audit.services import checklist_export, decision_propose, decision_sign, signer_key_create
from tests.audit.test_checklists import PASSWORD, complete_demo_checklist, request
from tests.factories import user_with_role
from tests.trust_setup import ADMIN_PASSWORD, installed


@pytest.fixture
def outside_transactions(monkeypatch):
    """Wraps the slow steps; each records whether it ran inside an atomic block."""
    seen: dict[str, list[bool]] = {}

    def spy(module, name):
        real = getattr(module, name)

        def wrapped(*args, **kwargs):
            seen.setdefault(name, []).append(connection.in_atomic_block)
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    spy(keyring_module, "decrypt_private_key")
    spy(checklists_service, "authenticate")
    spy(checklists_service, "_store_upload")
    spy(gate_service, "render_checklist_pdf")
    return seen


def test_key_unlocking_hashing_and_pdf_rendering_run_outside_any_transaction(
    transactional_db, settings, data_dir, outside_transactions
):
    settings.OEM_DATA_DIR = data_dir
    installed(data_dir)
    deployment = Deployment.objects.create(name="acme", customer="ACME", local=True)
    people = {}
    for role in ("engineer", "product_owner", "compliance"):
        user = user_with_role(role, deployments=[deployment], first_name=role.title(), last_name="Person")
        signer_key_create(user=user, password=PASSWORD, admin_password=ADMIN_PASSWORD)
        people[role] = user
    outside_transactions.clear()  # enrolment is an admin ceremony, not a console write

    checklist = complete_demo_checklist(deployment, people, settings)
    checklist_export(checklist=checklist, actor=people["engineer"])
    proposal = decision_propose(deployment=deployment, gate="demo_exit", actor=people["compliance"])
    decision_sign(proposal=proposal, actor=people["product_owner"], password=PASSWORD, request=request())
    decision_sign(proposal=proposal, actor=people["compliance"], password=PASSWORD, request=request())

    assert DecisionProposal.objects.get(pk=proposal.pk).status == DecisionProposal.Status.APPENDED
    assert set(outside_transactions) == {
        "decrypt_private_key",
        "authenticate",
        "_store_upload",
        "render_checklist_pdf",
    }
    inside = {name: calls for name, calls in outside_transactions.items() if any(calls)}
    assert inside == {}, f"ran inside a transaction: {inside}"
