"""assignment's HTTP API: where a lead was routed and why."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get
from litestar.params import FromPath
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from pydantic import BaseModel

from leadflow_assignment import views
from leadflow_assignment.bootstrap import Assignment


class AssignmentView(BaseModel):
    lead_id: uuid.UUID
    rule: str
    owner_id: str | None
    pool_id: str | None
    reason: str | None
    assigned_at: datetime


class AssignmentController(Controller):
    path = "/v1/leads"
    tags = ["assignments"]

    @get("/{lead_id:uuid}/assignment", summary="Where a lead was routed, by which rule")
    async def show(self, lead_id: FromPath[uuid.UUID], assignment: NamedDependency[Assignment]) -> AssignmentView:
        row = await views.assignment(assignment.db, lead_id)
        if row is None:
            raise NotFoundException(f"lead {lead_id} has not been assigned")
        return AssignmentView.model_validate(row)
