"""intake's HTTP API: partners post leads; a lead's status is readable by id."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.status_codes import HTTP_202_ACCEPTED
from pydantic import BaseModel, Field

from leadflow_intake.db import LeadRepository
from leadflow_intake.domain.model import MissingContact, new_submission
from leadflow_shared.contracts import LEADS_RECEIVED, Channel, LeadReceived, LeadSnapshot
from leadflow_shared.db import Database


class LeadIn(BaseModel):
    """A lead as a partner posts it."""

    name: str | None = Field(None, examples=["张伟"])
    mobile: str | None = Field(None, examples=["+86 138-0013-8000"])
    wechat: str | None = None
    email: str | None = Field(None, examples=["zhang.wei@example.cn"])
    company_name: str | None = Field(None, examples=["上海示例科技有限公司"])
    company_credit_code: str | None = None
    title: str | None = None
    province: str | None = None
    city: str | None = None
    industry: str | None = None
    source: Channel = Channel.other
    campaign: str | None = None
    referrer: str | None = Field(None, description="The rep or customer who referred the lead.")
    product_interest: str | None = None
    custom: dict[str, Any] = Field(default_factory=dict)


class LeadAccepted(BaseModel):
    lead_id: uuid.UUID
    submission_id: uuid.UUID
    outcome: str
    duplicate_of: uuid.UUID | None = None
    company_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None


class LeadView(BaseModel):
    lead_id: uuid.UUID
    status: str
    fields: dict[str, Any]


class LeadController(Controller):
    path = "/v1/leads"
    tags = ["leads"]

    @post("/", status_code=HTTP_202_ACCEPTED, summary="Submit one lead")
    async def submit(self, data: JSONBody[LeadIn], db: NamedDependency[Database]) -> LeadAccepted:
        fields = data.model_dump(mode="json", exclude_none=True)
        try:
            submission = new_submission(fields, partner_id=None)
        except MissingContact as exc:
            raise ValidationException(str(exc)) from exc
        async with db.uow() as uow:
            await LeadRepository(uow.session).add(submission, outcome="created")
            await uow.publish(
                LEADS_RECEIVED,
                submission.lead_id,
                LeadReceived(
                    lead_id=submission.lead_id, submission_id=submission.submission_id, outcome="created",
                    lead=LeadSnapshot.model_validate(fields),
                ),
            )
            await uow.commit()
        return LeadAccepted(lead_id=submission.lead_id, submission_id=submission.submission_id, outcome="created")

    @get("/{lead_id:uuid}", summary="A lead and its status so far")
    async def show(self, lead_id: FromPath[uuid.UUID], db: NamedDependency[Database]) -> LeadView:
        async with db.uow() as uow:
            lead = await LeadRepository(uow.session).get(lead_id)
        if lead is None:
            raise NotFoundException(f"no lead {lead_id}")
        return LeadView(lead_id=lead["id"], status=lead["status"], fields=lead["fields"])
