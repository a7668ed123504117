"""opportunity's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow_opportunity.settings import OpportunitySettings
from leadflow_shared.db import Database
from leadflow_shared.service import Container


@dataclass
class Opportunity(Container[OpportunitySettings]):
    """opportunity's settings and database; conversion's parts join them as they come."""


def bootstrap(settings: OpportunitySettings, db: Database) -> Opportunity:
    return Opportunity(settings, db)
