"""Imports every area's models so the metadata is complete (Alembic, schema checks)."""

from guard.access import models as access_models
from guard.agreements import models as agreement_models
from guard.audit import models as audit_models
from guard.auth import models as auth_models
from guard.customers import models as customer_models
from guard.db import Base
from guard.detection import models as detection_models
from guard.documents import models as document_models
from guard.hr import models as hr_models
from guard.keys import models as key_models
from guard.notifications import models as notification_models
from guard.people import models as people_models
from guard.vault import models as vault_models

metadata = Base.metadata

__all__ = [
    "access_models",
    "agreement_models",
    "audit_models",
    "auth_models",
    "customer_models",
    "detection_models",
    "document_models",
    "hr_models",
    "key_models",
    "metadata",
    "notification_models",
    "people_models",
    "vault_models",
]
