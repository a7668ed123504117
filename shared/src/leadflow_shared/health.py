"""`/health/live` (the process answers) and `/health/ready` (its Postgres, Kafka, Temporal answer, and what an
operator should know though the service works: `warnings`, present only when there are some)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {"auth": "public"}  # no credentials: probes and load balancers call it

    @get("/live", summary="Liveness: the process is up", include_in_schema=True)
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/ready", summary="Readiness: every dependency answers")
    async def ready(self, runtime: NamedDependency[Any]) -> Response[dict[str, Any]]:
        checks = await runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
        warnings = runtime.warnings()
        if warnings:
            body["warnings"] = warnings
        return Response(
            body,
            status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
        )
