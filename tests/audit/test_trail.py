"""The audit trail: append-only, hash-chained, browsable and exportable by auditors, verifiable."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.chain import verify_chain
from audit.models import AuditEvent
from audit.services import audit_event_record, audit_trail_problems
from tests.factories import user_with_role


@pytest.fixture
def events(db):
    for n in range(3):
        audit_event_record(action="test.event", actor=f"user{n}", detail={"n": n})


def test_events_cannot_be_edited_or_deleted(events):
    event = AuditEvent.objects.first()
    event.action = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_a_row_changed_behind_the_model_breaks_the_chain(events):
    assert audit_trail_problems() == []
    AuditEvent.objects.filter(seq=2).update(actor="mallory")
    assert audit_trail_problems() == ["event 2: event content does not match its hash"]
    with pytest.raises(CommandError, match="chain broken"):
        call_command("verify_audit_trail")


def test_a_deleted_row_breaks_the_chain(events):
    AuditEvent.objects.filter(seq=2)._raw_delete(AuditEvent.objects.db)
    assert any("expected seq 2" in p for p in audit_trail_problems())


def test_auditor_exports_a_jsonl_that_verifies_outside_the_console(client, events):
    client.force_login(user_with_role("auditor"))
    response = client.get("/audit/export.jsonl")
    assert response.status_code == 200
    rows = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]
    assert [r["action"] for r in rows[:3]] == ["test.event"] * 3
    assert verify_chain((({k: v for k, v in r.items() if k != "hash"}), r["hash"]) for r in rows) == []


def test_operator_cannot_browse_or_export_the_trail(client, events):
    client.force_login(user_with_role("operator"))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.jsonl").status_code == 403


def test_trail_page_shows_an_intact_chain_and_filters(client, events):
    client.force_login(user_with_role("auditor"))
    page = client.get("/audit/?actor=user1").content.decode()
    assert "Hash chain intact" in page and "user1" in page and "user2" not in page


def test_failed_login_is_audited_without_the_password(client, db):
    user = user_with_role("engineer")
    client.post("/login/", {"username": user.username, "password": "guess-123"})
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor == user.username and event.outcome == "denied"
    assert "guess-123" not in json.dumps(event.detail)
