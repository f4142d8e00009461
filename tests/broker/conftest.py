from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.broker.helpers import Broker
from tests.support.people import People


@pytest.fixture
def broker(client: TestClient, people: People) -> Broker:
    return Broker(client, people)
