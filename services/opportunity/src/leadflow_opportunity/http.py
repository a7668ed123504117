"""opportunity's HTTP API for staff (a staff token, leadflow_shared.staff): a lead's owner and conversion status."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, get
from litestar.params import FromPath
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from pydantic import BaseModel

from leadflow_opportunity import views
from leadflow_opportunity.bootstrap import Opportunity
from leadflow_shared.staff import Role, staff_roles

ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)


class LeadOwnerView(BaseModel):
    lead_id: uuid.UUID
    owner_id: str | None
    status: str
    updated_at: datetime


class LeadOwnerController(Controller):
    path = "/v1/leads"
    tags = ["opportunities"]

    @get("/{lead_id:uuid}", guards=[ANY_STAFF],
         summary="Who works a lead and whether it has converted (staff: rep, sdr, manager, admin)")
    async def show(self, lead_id: FromPath[uuid.UUID], opportunity: NamedDependency[Opportunity]) -> LeadOwnerView:
        row = await views.lead_owner(opportunity.db, lead_id)
        if row is None:
            raise NotFoundException(f"opportunity knows no lead {lead_id}")
        return LeadOwnerView.model_validate(row)
