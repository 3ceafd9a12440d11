"""Out-of-range numbers sent to the lab launchers are refused as input errors and start nothing."""

import pytest
from django.test import Client

from risklab.models import LabRun

pytestmark = pytest.mark.django_db
HUGE = 99999999999999999999  # beyond a 64-bit row id


@pytest.mark.parametrize(
    "body",
    [
        {"datasets": [HUGE]},
        {"datasets": [0]},
        {"deployment": HUGE},
        {"seed": 10**30},
        {"seed": -1},
    ],
)
def test_lab_start_api_refuses_out_of_range_numbers_with_a_400(api_client, make_user, body):
    api_client.force_authenticate(make_user("admin"))
    response = api_client.post("/api/v1/paper-labs/runs/start/", body, format="json")
    assert response.status_code == 400, response.content
    field = next(iter(body))
    assert field in response.json()["error"]["fields"]
    assert not LabRun.objects.exists()


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"seed": str(10**30)}, "seed"),
        ({"seed": "-5"}, "seed"),
        ({"seed": "twelve"}, "seed"),
        ({"dataset": str(HUGE)}, "dataset"),
        ({"dataset": "abc"}, "dataset"),
        ({"deployment": str(HUGE)}, "deployment"),
    ],
)
def test_web_lab_form_turns_out_of_range_numbers_into_a_form_error(make_user, post, field):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("admin"))
    response = client.post("/labs/", post, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Cannot start the lab" in text and f"{field}:" in text
    assert not LabRun.objects.exists()
