"""pool's reports for managers and admins: the collusion flags (串通), JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from leadflow_pool import collusion
from leadflow_pool.bootstrap import Pool
from leadflow_shared.staff import Role, staff_roles

MANAGERS = staff_roles(Role.manager, Role.admin)
CSV_COLUMNS = ("kind", "released_by", "claimed_by", "occurrences", "lead_ids", "first_at", "last_at", "detected_at")


class ReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]

    @get("/collusion", guards=[MANAGERS],
         summary="串通: reps who keep claiming what one colleague drops, and leads passed back and forth between "
                 "two reps; with the leads and when (JSON, or CSV with ?format=csv; staff: manager, admin)")
    async def collusion(self, pool: NamedDependency[Pool],
                        from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
                        to: FromQuery[datetime | None] = None, rep: FromQuery[str | None] = None,
                        format: FromQuery[Literal["json", "csv"]] = "json") -> Response[Any]:
        async with pool.db.uow() as uow:
            rows = await collusion.flags(uow.session, since=from_, until=to, rep=rep)
        if format == "csv":
            return Response(_csv(rows), media_type="text/csv; charset=utf-8")
        return Response({"from": from_, "to": to, "rep": rep, "flags": rows})


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([" ".join(map(str, row[c])) if c == "lead_ids" else
                         row[c].isoformat() if isinstance(row[c], datetime) else row[c] for c in CSV_COLUMNS])
    return out.getvalue()
