from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.hr.helpers import Hr
from tests.support.people import People


@pytest.fixture
def hr(client: TestClient, people: People) -> Hr:
    return Hr(client, people)
