"""Who may change console-level records (API tokens, lockouts), each rule as a sentence."""

import pytest

from audit.errors import NotAllowed, NotFound
from audit.models import AuditEvent, SigningLockout
from oemconsole.models import ApiToken
from oemconsole.services import api_token_issue, api_token_revoke, lockout_clear
from tests.factories import user_with_role


@pytest.mark.parametrize("role", ["engineer", "auditor", "operator", "compliance"])
def test_someone_elses_api_token_does_not_exist_for_you_and_stays_valid(db, role):
    token, _secret = api_token_issue(actor=user_with_role("engineer"))
    events = AuditEvent.objects.count()
    with pytest.raises(NotFound, match="no such token"):
        api_token_revoke(actor=user_with_role(role), token_id=token.pk)
    token.refresh_from_db()
    assert token.revoked_at is None and AuditEvent.objects.count() == events


def test_the_owner_or_an_admin_revokes_a_token(db):
    owner = user_with_role("operator")
    mine, _ = api_token_issue(actor=owner)
    theirs, _ = api_token_issue(actor=owner)
    assert api_token_revoke(actor=owner, token_id=mine.pk).revoked_by == owner
    admin = user_with_role("admin")
    assert api_token_revoke(actor=admin, token_id=theirs.pk).revoked_by == admin


def test_an_inactive_account_gets_no_token(db):
    user = user_with_role("engineer", is_active=False)
    with pytest.raises(NotAllowed, match="sign in first"):
        api_token_issue(actor=user)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", ["engineer", "auditor", "operator", "compliance", "product_owner"])
def test_only_admins_unlock_accounts_and_a_refusal_clears_nothing(db, role):
    locked = user_with_role("engineer")
    SigningLockout.objects.create(user=locked, failures=5)
    events = AuditEvent.objects.count()
    with pytest.raises(NotAllowed, match="only admins unlock accounts"):
        lockout_clear(actor=user_with_role(role), username=locked.username)
    assert SigningLockout.objects.get(user=locked).failures == 5
    assert AuditEvent.objects.count() == events
