"""The five services' public HTTP APIs as the demo's people call them: partners with their API keys, reps,
managers, finance and an admin with staff tokens. Nothing here reads a service's tables."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx


class ScenarioFailed(Exception):
    """A stage of the scenario did not happen: the message says which, and where to look."""


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any


RETRIED = (429, 502, 503)  # over a partner's rate, or a service busy: wait and send again
ATTEMPTS = 6


class Platform:
    """One HTTP client for the five services, at most `concurrency` requests in flight (two cores host the
    whole platform)."""

    def __init__(self, urls: dict[str, str], concurrency: int = 12) -> None:
        self.urls = urls
        self.http = httpx.AsyncClient(timeout=60, headers={"Accept-Language": "zh-CN"})
        self.gate = asyncio.Semaphore(concurrency)

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, service: str, method: str, path: str, token: str, body: Any = None,
                   params: Any = None, ok: tuple[int, ...] = (200, 201, 202)) -> Reply:
        """The answer when its status is one of `ok`; anything else fails the scenario, naming the call."""
        for attempt in range(ATTEMPTS):
            async with self.gate:
                try:
                    reply = await self.http.request(method, self.urls[service] + path, json=body, params=params,
                                                    headers={"Authorization": f"Bearer {token}"})
                except httpx.TransportError as exc:
                    if attempt == ATTEMPTS - 1:
                        raise ScenarioFailed(f"{service} did not answer {method} {path}: {exc!r} "
                                             f"(see .local/logs/{service}.log)") from exc
                    reply = None
            if reply is not None and reply.status_code in ok:
                return Reply(reply.status_code, reply.json() if reply.content else None)
            if reply is not None and reply.status_code not in RETRIED:
                raise ScenarioFailed(f"{service}: {method} {path} answered {reply.status_code}: {reply.text[:500]}")
            await asyncio.sleep(_retry_after(reply, attempt))
        raise ScenarioFailed(f"{service}: {method} {path} still refused after {ATTEMPTS} tries")

    # ---- intake and scoring: what partners send --------------------------------------------------------

    async def submit_batch(self, key: str, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        reply = await self.call("intake", "POST", "/v1/leads/batch", key, {"leads": leads})
        return list(reply.data["results"])

    async def record_activities(self, key: str, activities: list[dict[str, Any]]) -> int:
        reply = await self.call("scoring", "POST", "/v1/activities", key, {"activities": activities})
        return int(reply.data["accepted"])

    async def score(self, lead_id: str, token: str) -> dict[str, Any] | None:
        reply = await self.call("scoring", "GET", f"/v1/leads/{lead_id}/score", token, ok=(200, 404))
        return reply.data if reply.status == 200 else None

    # ---- pool: the reps' day ----------------------------------------------------------------------------

    async def my_leads(self, token: str) -> list[dict[str, Any]]:
        return list((await self.call("pool", "GET", "/v1/me/leads", token, params={"limit": 500})).data)

    async def waiting_in(self, pool_id: str, token: str, limit: int = 20,
                         received_since: datetime | None = None) -> list[dict[str, Any]]:
        """The best leads waiting in a pool; those received since an instant, when given."""
        params: dict[str, Any] = {"sort": "-score", "limit": limit}
        if received_since is not None:
            params["max_age_days"] = (datetime.now(UTC) - received_since).total_seconds() / 86400
        reply = await self.call("pool", "GET", f"/v1/pools/{pool_id}/leads", token, params=params)
        return list(reply.data["leads"])

    async def claim(self, lead_id: str, token: str) -> Reply:
        """200 claimed; 409 someone was quicker, or a limit, a cooldown or a collusion flag stands in the way."""
        return await self.call("pool", "POST", f"/v1/leads/{lead_id}/claim", token, ok=(200, 403, 409))

    async def release(self, lead_id: str, token: str, reason: str, note: str) -> Reply:
        return await self.call("pool", "POST", f"/v1/leads/{lead_id}/release", token,
                               {"reason": reason, "note": note}, ok=(200, 403, 409))

    async def follow_up(self, lead_id: str, token: str, body: dict[str, Any]) -> Reply:
        """201 recorded; 403/409 when the lead left the rep meanwhile (recycled, converted)."""
        return await self.call("pool", "POST", f"/v1/leads/{lead_id}/follow-ups", token, body, ok=(201, 403, 409))

    async def pool_lead(self, lead_id: str, token: str) -> dict[str, Any] | None:
        reply = await self.call("pool", "GET", f"/v1/leads/{lead_id}", token, ok=(200, 404))
        return reply.data if reply.status == 200 else None

    async def timeline(self, lead_id: str, token: str) -> list[dict[str, Any]]:
        reply = await self.call("pool", "GET", f"/v1/leads/{lead_id}/timeline", token, params={"limit": 100})
        return list(reply.data["entries"])

    async def collusion(self, token: str, since: datetime) -> list[dict[str, Any]]:
        reply = await self.call("pool", "GET", "/v1/reports/collusion", token, params={"from": since.isoformat()})
        return list(reply.data["flags"])

    # ---- opportunity: closing ---------------------------------------------------------------------------

    async def accept(self, lead_id: str, token: str) -> Reply:
        """200 accepted (SQL); 403/404 while opportunity has not yet heard the rep holds the lead."""
        return await self.call("opportunity", "POST", f"/v1/leads/{lead_id}/accept", token, ok=(200, 403, 404, 409))

    async def convert(self, lead_id: str, token: str, body: dict[str, Any]) -> Reply:
        return await self.call("opportunity", "POST", f"/v1/leads/{lead_id}/convert", token, body,
                               ok=(201, 403, 404, 409))

    async def move(self, deal: str, token: str, body: dict[str, Any]) -> Reply:
        return await self.call("opportunity", "POST", f"/v1/opportunities/{deal}/stage", token, body)

    async def pay(self, token: str, body: dict[str, Any]) -> Reply:
        return await self.call("opportunity", "POST", "/v1/payments", token, body)

    async def funnel(self, token: str, partners: list[str], group: str = "none") -> dict[str, Any]:
        params = [("partner", p) for p in partners] + [("group", group)]
        return dict((await self.call("opportunity", "GET", "/v1/reports/funnel", token, params=params)).data)

    # ---- assignment: managers' reports ------------------------------------------------------------------

    async def distribution(self, token: str, since: datetime, team: str) -> list[dict[str, Any]]:
        """A team's manager reads it: leads assigned per rep since an instant."""
        reply = await self.call("assignment", "GET", "/v1/reports/distribution", token,
                                params={"from": since.isoformat(), "team": team})
        return list(reply.data["reps"])


def _retry_after(reply: httpx.Response | None, attempt: int) -> float:
    if reply is not None and reply.headers.get("retry-after", "").isdigit():
        return float(reply.headers["retry-after"])
    return min(0.5 * 2 ** attempt, 8.0)
