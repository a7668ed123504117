"""opportunity's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from leadflow_opportunity.conversion import Conversions
from leadflow_opportunity.deals import Deals
from leadflow_opportunity.domain.conversion import CustomerKind
from leadflow_opportunity.pipelines import PipelineCatalogue
from leadflow_opportunity.projection import Projection
from leadflow_opportunity.settings import OpportunitySettings
from leadflow_shared.db import Database
from leadflow_shared.service import Container


@dataclass
class Opportunity(Container[OpportunitySettings]):
    """opportunity's settings and database, the pipeline in force, conversion, deals and the funnel projection."""

    pipelines: PipelineCatalogue
    conversions: Conversions
    deals: Deals
    projection: Projection
    timezone: ZoneInfo


def bootstrap(settings: OpportunitySettings, db: Database) -> Opportunity:
    pipelines = PipelineCatalogue()
    kind = CustomerKind.company if settings.customer_mode == "b2b" else CustomerKind.person
    timezone = ZoneInfo(settings.report_timezone)
    return Opportunity(settings, db, pipelines=pipelines, conversions=Conversions(db, pipelines, kind),
                       deals=Deals(db, pipelines), projection=Projection(timezone), timezone=timezone)
