"""scoring's HTTP API: a lead's current score."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get
from litestar.params import FromPath
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from pydantic import BaseModel

from leadflow_scoring.db import ScoreRepository
from leadflow_shared.db import Database


class ScoreView(BaseModel):
    lead_id: uuid.UUID
    score: float
    grade: str
    stage: str
    rules_version: str
    explanation: list[dict[str, Any]]


class ScoreController(Controller):
    path = "/v1/leads"
    tags = ["scores"]

    @get("/{lead_id:uuid}/score", summary="A lead's score, grade, stage and why")
    async def show(self, lead_id: FromPath[uuid.UUID], db: NamedDependency[Database]) -> ScoreView:
        async with db.uow() as uow:
            row = await ScoreRepository(uow.session).get(lead_id)
        if row is None:
            raise NotFoundException(f"lead {lead_id} has not been scored")
        return ScoreView.model_validate(row)
