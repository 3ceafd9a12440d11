"""Who may change console-level records: API tokens and account lockouts."""

from audit.authorization import is_admin, rule
from audit.errors import NotFound


@rule("api_token.issue", who="any active account, for itself (its password was checked first)")
def api_token_issue(actor) -> str | None:
    return None  # `authorize` has already refused the inactive and the anonymous


@rule("api_token.revoke", who="the token's owner, or admin")
def api_token_revoke(actor, token) -> str | None:
    if token.user_id != actor.pk and not is_admin(actor):
        # Someone else's token does not exist for this actor: the same answer as a missing id.
        raise NotFound("no such token")
    return None


@rule("account.unlock", who="admin")
def account_unlock(actor) -> str | None:
    if not is_admin(actor):
        return "only admins unlock accounts"
    return None
