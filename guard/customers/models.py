from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from guard.db import Base, IdColumn, UTCDateTime, new_id


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    external_id: Mapped[str] = mapped_column(String(120), unique=True)  # the CRM's id
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
