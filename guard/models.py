"""Imports every area's models so the metadata is complete (Alembic, schema checks)."""

from guard.audit import models as audit_models
from guard.auth import models as auth_models
from guard.db import Base
from guard.notifications import models as notification_models
from guard.people import models as people_models

metadata = Base.metadata

__all__ = ["audit_models", "auth_models", "metadata", "notification_models", "people_models"]
