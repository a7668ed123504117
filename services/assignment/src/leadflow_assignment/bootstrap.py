"""assignment's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow_assignment.assigner import Assigner
from leadflow_assignment.settings import AssignmentSettings
from leadflow_shared.db import Database
from leadflow_shared.service import Container


@dataclass
class Assignment(Container[AssignmentSettings]):
    """assignment's settings and database, and the assigner that routes within them."""

    assigner: Assigner


def bootstrap(settings: AssignmentSettings, db: Database) -> Assignment:
    return Assignment(settings, db, Assigner(settings))
