"""The rules registry: one rule per action, `authorize` refuses before anything happens, and a refusal is
translated the same way by the API handler and by pages."""

import json

import pytest
from django.test import RequestFactory

from audit.authorization import all_rules, authorize, may, rule, rule_for
from audit.errors import Conflict, Invalid, NotAllowed, NotFound, Refused
from audit.refusals import refusal_response
from oemconsole.errors import api_exception_handler
from tests.factories import user_with_role


class Anonymous:
    is_authenticated = False
    is_active = False


def test_a_refusal_carries_its_status_code_and_one_line_message():
    exc = NotAllowed("you may not\nsign   this", code="step_role")
    assert (exc.status, exc.code, exc.message, str(exc)) == (
        403,
        "step_role",
        "you may not sign this",
        exc.message,
    )
    assert [c.status for c in (Invalid, NotAllowed, NotFound, Conflict)] == [400, 403, 404, 409]
    assert all(issubclass(c, Refused) for c in (Invalid, NotAllowed, NotFound, Conflict))


def test_an_action_has_exactly_one_rule():
    @rule("test.once", who="nobody")
    def check(actor):
        return "never"

    with pytest.raises(ValueError, match="already has a rule"):
        rule("test.once", who="somebody")(lambda actor: None)
    assert rule_for("test.once").who == "nobody"
    with pytest.raises(KeyError, match="no rule for test.unknown"):
        authorize(object(), "test.unknown")


@pytest.mark.django_db
def test_authorize_refuses_the_anonymous_before_asking_the_rule():
    asked = []

    @rule("test.asked", who="anyone signed in")
    def check(actor):
        asked.append(actor)

    with pytest.raises(NotAllowed, match="sign in first"):
        authorize(Anonymous(), "test.asked")
    assert asked == []
    operator = user_with_role("operator")
    authorize(operator, "test.asked")
    assert asked == [operator] and may(operator, "test.asked")


@pytest.mark.django_db
def test_a_rule_may_hide_the_object_with_not_found():
    @rule("test.hidden", who="nobody sees it")
    def check(actor, thing):
        raise NotFound("no such thing")

    with pytest.raises(NotFound):
        authorize(user_with_role("admin"), "test.hidden", thing=1)
    assert not may(user_with_role("admin"), "test.hidden", thing=1)


@pytest.mark.django_db
def test_every_app_rule_is_registered_at_startup_and_says_who():
    for entry in all_rules():
        assert entry.who.strip() and "." in entry.action


def test_the_api_handler_answers_a_refusal_in_the_error_shape():
    response = api_exception_handler(Conflict("already signed", step="s1"), {})
    assert response.status_code == 409
    assert response.data == {"error": {"code": "conflict", "message": "already signed", "step": "s1"}}


def test_a_page_answers_a_refusal_with_its_status_page_or_json_under_the_api():
    factory = RequestFactory()
    page = refusal_response(factory.get("/deployments/1/"), NotAllowed("only the engineer signs this"))
    assert page.status_code == 403 and b"Only the engineer signs this" in page.content
    api = refusal_response(factory.post("/api/v1/x/"), Invalid("bad"))
    assert api.status_code == 400 and json.loads(api.content) == {
        "error": {"code": "invalid", "message": "bad"}
    }
