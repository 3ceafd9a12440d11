import pytest
from rest_framework.test import APIClient

from tests.factories import DeploymentFactory, user_with_role


@pytest.fixture
def deployment(db):
    return DeploymentFactory()


@pytest.fixture
def other_deployment(db):
    return DeploymentFactory()


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def make_user(db):
    return user_with_role
