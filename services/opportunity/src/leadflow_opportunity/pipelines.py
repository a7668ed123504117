"""The pipeline document in force, read again only when a newer one was stored (one index read a transaction),
so that every process applies a change at once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_opportunity.db import current_pipeline, pipeline_version
from leadflow_opportunity.domain.pipeline import DEFAULT_PIPELINE, Pipeline


@dataclass
class PipelineCatalogue:
    version: int = -1
    pipeline: Pipeline = DEFAULT_PIPELINE

    async def current(self, session: AsyncSession) -> Pipeline:
        return await self.at(session, await pipeline_version(session))

    async def at(self, session: AsyncSession, stored: int) -> Pipeline:
        """The pipeline, given the version stored now (read with other things, in one round trip)."""
        if stored != self.version:
            self.version, self.pipeline = await current_pipeline(session)
        return self.pipeline
