"""The audit trail: append-only, MAC-chained with the audit key, head compared and witnessed, exportable by
auditors as a signed JSONL that `verify_audit_trail --export` re-checks."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.chain import CHAIN_V1, CHAIN_V2, WITNESS_KEY, event_body, event_hash, verify_chain
from audit.models import AuditChainHead, AuditEvent
from audit.services import audit_event_record, audit_trail_problems
from audit.services.trail import AuditKeyUnavailable, stored_event_body
from audit.trust.keyring import KeyRing
from tests.factories import user_with_role
from tests.trust_setup import installed


@pytest.fixture
def data_dir(settings, tmp_path, monkeypatch) -> Path:
    """A data dir of its own per test: its own installation (audit key) and witness places."""
    path = tmp_path / "var"
    path.mkdir()
    settings.OEM_DATA_DIR = path
    monkeypatch.setenv("OEM_DATA_DIR", str(path))
    monkeypatch.delenv("OEM_WITNESS_DIR", raising=False)
    return path


@pytest.fixture
def installation(data_dir):
    return installed(data_dir)


def record(n: int, callbacks) -> None:
    """Record n events, each committed as in production (witness advanced after commit)."""
    for i in range(n):
        with callbacks(execute=True):
            audit_event_record(action="test.event", actor=f"user{i}", detail={"n": i})


@pytest.fixture
def events(db, installation, django_capture_on_commit_callbacks):
    record(3, django_capture_on_commit_callbacks)


def raw_delete(**filters) -> None:
    AuditEvent.objects.filter(**filters)._raw_delete(AuditEvent.objects.db)


def test_events_cannot_be_edited_or_deleted(events):
    event = AuditEvent.objects.first()
    event.action = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()


def test_events_after_setup_are_keyed_and_the_trail_verifies(events, capsys):
    """Fails when audit_event_record stops MACing with the audit key (rows would be v1)."""
    assert set(AuditEvent.objects.values_list("chain_version", flat=True)) == {CHAIN_V2}
    assert all(h.startswith("hmac-sha384:audit") for h in AuditEvent.objects.values_list("hash", flat=True))
    assert audit_trail_problems() == []
    call_command("verify_audit_trail")
    assert "audit trail intact: 3 events (3 keyed), head at event 3" in capsys.readouterr().out


def test_a_row_changed_behind_the_model_breaks_the_chain(events):
    """Fails when the per-row MAC check is removed."""
    AuditEvent.objects.filter(seq=2).update(actor="mallory")
    problems = audit_trail_problems()
    assert problems[0].startswith("event 2: event content does not match its MAC")
    with pytest.raises(CommandError, match="audit trail broken"):
        call_command("verify_audit_trail")


def test_a_re_chained_forgery_without_the_key_is_refused(events):
    """Fails when v2 rows are accepted with an unkeyed hash (an attacker re-chaining rows or appending forged
    ones with sha384 would pass, as before the keyed chain)."""
    last = AuditEvent.objects.get(seq=3)
    body = event_body(**{**stored_event_body(last), "seq": 4, "prev_hash": last.hash, "action": "forged"})
    AuditEvent.objects.bulk_create([AuditEvent(**_row(body, event_hash(body)))])
    AuditChainHead.objects.filter(pk=1).update(seq=4, head_hash=event_hash(body))
    assert any("event 4: event content does not match its MAC" in p for p in audit_trail_problems())
    body1 = event_body(**{**stored_event_body(last), "seq": 4, "prev_hash": last.hash, "chain_version": 1})
    raw_delete(seq=4)
    AuditEvent.objects.bulk_create([AuditEvent(**_row(body1, event_hash(body1)))])
    AuditChainHead.objects.filter(pk=1).update(seq=4, head_hash=event_hash(body1))
    assert any("event 4: unkeyed event after the keyed chain began" in p for p in audit_trail_problems())


def _row(body: dict, digest: str) -> dict:
    from django.utils.dateparse import parse_datetime

    return {
        "seq": body["seq"],
        "timestamp": parse_datetime(body["timestamp"]),
        "actor": body["actor"],
        "action": body["action"],
        "outcome": body["outcome"],
        "object_type": body["object_type"],
        "object_id": body["object_id"],
        "deployment_id": body["deployment_id"],
        "detail": body["detail"],
        "prev_hash": body["prev_hash"],
        "hash": digest,
        "chain_version": body.get("chain_version", CHAIN_V1),
    }


def test_a_deleted_middle_row_breaks_the_chain(events):
    raw_delete(seq=2)
    assert any("expected seq 2" in p for p in audit_trail_problems())


def test_a_deleted_tail_is_caught_by_the_stored_head(events):
    """Fails when audit_trail_problems stops comparing the AuditChainHead row with the last event."""
    raw_delete(seq__gte=2)
    assert "stored head is at event 3 but the trail ends at event 1 (tail deleted?)" in audit_trail_problems()


def test_a_deleted_tail_with_the_head_rewound_is_caught_by_the_witness(events):
    """Fails when the witness check of the audit trail is removed: rows and head row agree after this."""
    first = AuditEvent.objects.get(seq=1)
    raw_delete(seq__gte=2)
    AuditChainHead.objects.filter(pk=1).update(seq=1, head_hash=first.hash)
    problems = audit_trail_problems()
    assert len(problems) == 1 and "audit trail: rolled back" in problems[0], problems


def test_a_lost_witness_after_keyed_use_is_an_error_not_no_mark(events, data_dir):
    """Fails when a trail with keyed events and no witness mark anywhere is accepted."""
    from audit.trust.witness import witness_for

    for store in witness_for(data_dir).stores:
        store.forget(WITNESS_KEY)
    problems = audit_trail_problems()
    assert any("no witness holds a mark" in p for p in problems), problems


def test_unkeyed_events_before_setup_are_anchored_by_the_first_keyed_event(
    db, data_dir, django_capture_on_commit_callbacks
):
    """Fails when the v1 prefix is no longer covered: rewriting an old unkeyed row (recomputing its hash and
    the next unkeyed link) must break the first keyed event's prev_hash."""
    record(2, django_capture_on_commit_callbacks)  # no installation yet: unkeyed (v1)
    assert set(AuditEvent.objects.values_list("chain_version", flat=True)) == {CHAIN_V1}
    installed(data_dir)
    record(2, django_capture_on_commit_callbacks)
    assert list(AuditEvent.objects.order_by("seq").values_list("chain_version", flat=True)) == [1, 1, 2, 2]
    assert audit_trail_problems() == []
    second = AuditEvent.objects.get(seq=2)
    body = {**stored_event_body(second), "actor": "mallory"}
    AuditEvent.objects.filter(seq=2).update(actor="mallory", hash=event_hash(body))
    assert any("event 3: prev_hash does not match" in p for p in audit_trail_problems())


def test_once_keyed_an_event_without_the_audit_key_is_refused(events, data_dir):
    """Fails when audit_event_record silently falls back to the unkeyed chain after it has begun."""
    (data_dir / "keys" / "keyring.json").rename(data_dir / "keyring.json.moved")
    with pytest.raises(AuditKeyUnavailable):
        audit_event_record(action="test.event", actor="someone")
    assert AuditEvent.objects.count() == 3


# ---- export ----------------------------------------------------------------------------------------------
def export(client, query: str = "") -> bytes:
    client.force_login(user_with_role("auditor"))
    response = client.get("/audit/export.jsonl" + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def verify_export_file(tmp_path, data: bytes) -> str:
    path = tmp_path / "audit_trail.jsonl"
    path.write_bytes(data)
    from io import StringIO

    out = StringIO()
    call_command("verify_audit_trail", "--export", str(path), stdout=out)
    return out.getvalue()


def test_auditor_exports_a_jsonl_that_verifies_outside_the_console(client, events, tmp_path):
    """Fails when the export stops ending with the signed head or the rows stop carrying their MACs."""
    data = export(client)
    rows = [json.loads(line) for line in data.decode().splitlines()]
    actions = [r["action"] for r in rows[:-1]]
    assert actions[:3] == ["test.event"] * 3 and actions[-1] == "audit.export"
    assert "signature" in rows[-1] and rows[-1]["export"]["trail_head"]["seq"] == len(actions)
    assert verify_export_file(tmp_path, data).startswith(f"export intact (complete): {len(actions)} events")
    keyring = KeyRing.load()
    body_rows = [({k: v for k, v in r.items() if k != "hash"}, r["hash"]) for r in rows[:-1]]
    assert verify_chain(body_rows, keyring).problems == []


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (lambda lines: lines[:-2] + lines[-1:], r"holds (\d+) events, its signed head says (?!\1)\d+"),
        (lambda lines: lines[:-1], "last line is not the signed head"),
        (lambda lines: lines[:-3], "last line is not the signed head"),
        (lambda lines: [lines[1], lines[0], *lines[2:]], "do not match the signed head's digest"),
        (lambda lines: [lines[0].replace(b"user0", b"userX"), *lines[1:]], "digest"),
    ],
    ids=["deleted-tail-head-kept", "head-deleted", "tail-and-head-deleted", "reordered", "edited"],
)
def test_a_tampered_export_is_refused(client, events, tmp_path, attack, reason):
    """Fails when verify_export loses the signed head's count/digest/presence checks (a deleted tail would
    verify as a shorter, intact trail)."""
    lines = export(client).splitlines()
    with pytest.raises(CommandError, match=reason):
        verify_export_file(tmp_path, b"\n".join(attack(lines)) + b"\n")


def test_a_re_signed_tail_deletion_cannot_reuse_the_head(client, events, tmp_path):
    """Fails when an unfiltered export's last event is not compared with the signed trail head: a tail cut
    from the rows and from count/digest alike is still caught because the head cannot be re-signed."""
    from audit.chain import ExportError, verify_export

    lines = export(client).splitlines()
    head = json.loads(lines[-1])
    head["export"]["count"] = 2
    with pytest.raises(ExportError, match="signed head does not verify"):
        verify_export(b"\n".join([*lines[:2], json.dumps(head).encode()]) + b"\n", KeyRing.load())


def test_a_filtered_export_verifies_row_by_row(client, events, tmp_path):
    """Fails when verify_export demands a full chain from a filtered export (rows verify by their own MACs,
    the signed count and digest cover the selection)."""
    data = export(client, "?actor=user1")
    assert verify_export_file(tmp_path, data).startswith("export intact (filtered): 1 events")


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


def test_verify_audit_trail_given_a_fifo_or_a_device_fails_in_one_line(events, tmp_path):
    """Fails when --export is read without the bounded reader (a FIFO would block the command)."""
    import os

    fifo = tmp_path / "export.jsonl"
    os.mkfifo(fifo)
    for hostile in (fifo, "/dev/zero"):
        with pytest.raises(CommandError, match="not a regular file") as info:
            call_command("verify_audit_trail", "--export", str(hostile))
        assert "\n" not in str(info.value)


def test_a_trail_rewritten_unkeyed_is_caught_by_the_witness(events):
    """Fails when the witness is consulted only for keyed rows: an attacker with database access who
    rewrites every row and the head as an unkeyed (v1) chain would leave nothing keyed to check."""
    prev = "sha384:" + "0" * 96
    for event in AuditEvent.objects.order_by("seq"):
        body = {**stored_event_body(event), "prev_hash": prev}
        body.pop("chain_version")
        digest = event_hash(body)
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=prev, hash=digest, chain_version=CHAIN_V1)
        prev = digest
    AuditChainHead.objects.filter(pk=1).update(head_hash=prev, chain_version=CHAIN_V1)
    problems = audit_trail_problems()
    assert len(problems) == 1 and "audit trail: replaced" in problems[0], problems


@pytest.mark.parametrize("name", ["action", "actor", "outcome"])
def test_a_nul_character_in_an_audit_trail_filter_is_a_plain_400(client, make_user, name):
    client.force_login(make_user("auditor"))
    for url in ("/audit/", "/audit/export.jsonl"):
        response = client.get(url, {name: "admin\x00"})
        assert response.status_code == 400 and b"Traceback" not in response.content
