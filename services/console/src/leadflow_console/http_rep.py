"""A rep's pages: the pools with their filters and claim buttons, my leads by deadline, a lead's page (score
and why, why it was assigned, timeline, duplicate warnings; follow-ups, visits, release, conversion), my
opportunities with their stage moves, my notifications. Each is the services' API answers, nothing more."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar.di import NamedDependency
from litestar import Request, get, post
from litestar.response import Redirect, Template

from leadflow_console.bootstrap import Console
from leadflow_console.domain import forms, worklist
from leadflow_console.http import FormData, form_lists
from leadflow_console.pages import PageController, Viewer, api_failure, redirect, render
from leadflow_console.platform import ApiError


async def attempt(call: Any) -> tuple[Any, ApiError | None]:
    """A part of a page: its answer, or why it is missing (the rest of the page still shows)."""
    try:
        return await call, None
    except ApiError as exc:
        return None, exc


def pool_reasons(document: dict[str, Any] | None, pool_id: str | None) -> list[dict[str, str]]:
    """The release reasons of a lead's pool (its own list, else the document's)."""
    if not document:
        return []
    for pool in document.get("pools") or []:
        if pool.get("id") == pool_id and pool.get("release_reasons"):
            return list(pool["release_reasons"])
    return list(document.get("release_reasons") or [])


class RepController(PageController):
    path = "/"

    @get("/my/leads")
    async def my_leads(self, request: Request[Any, Any, Any], console: NamedDependency[Console], viewer: NamedDependency[Viewer]) -> Template:
        leads = await viewer.caller.get("pool", "/v1/me/leads", {"limit": 500})
        rows = worklist.work_list(leads, datetime.now(UTC), ZoneInfo(console.settings.console_timezone))
        return render(request, "my_leads.html", viewer, leads=rows, counts=worklist.counts(rows))

    @get("/pools")
    async def pools(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        return render(request, "pools.html", viewer, pools=await viewer.caller.get("pool", "/v1/pools/"))

    @get("/pools/{pool_id:str}")
    async def pool(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], pool_id: str) -> Template:
        form = {k: request.query_params.getall(k) for k in request.query_params}
        query = forms.pool_query(form)
        cursor = request.query_params.get("cursor")
        params = {**query.body, "limit": 50, **({"cursor": cursor} if cursor else {})}
        pools, page = await asyncio.gather(viewer.caller.get("pool", "/v1/pools/"),
                                           viewer.caller.get("pool", f"/v1/pools/{pool_id}/leads", params))
        pool = next((p for p in pools if p["id"] == pool_id), {"id": pool_id, "name": pool_id, "may_claim": False})
        following = None
        if page.get("next_cursor"):
            following = f"?{urlencode({**{k: v for k, v in query.body.items()}, 'cursor': page['next_cursor']}, doseq=True)}"
        return render(request, "pool.html", viewer, pool=pool, leads=page["leads"], query=query.body,
                      grades=forms.GRADES, sorts=forms.POOL_SORTS, following=following)

    @post("/leads/{lead_id:uuid}/claim")
    async def claim(self, viewer: NamedDependency[Viewer], lead_id: uuid.UUID, data: FormData) -> Redirect:
        back = forms.one(form_lists(data), "back") or "/pools"
        try:
            await viewer.caller.post("pool", f"/v1/leads/{lead_id}/claim")
        except ApiError as exc:
            return redirect(back if back.startswith("/") else "/pools", error=api_failure(exc))
        return redirect(f"/leads/{lead_id}", ok="claimed")

    @get("/leads/{lead_id:uuid}")
    async def lead(self, request: Request[Any, Any, Any], console: NamedDependency[Console], viewer: NamedDependency[Viewer],
                   lead_id: uuid.UUID) -> Template:
        return await lead_page(request, console, viewer, lead_id)

    @post("/leads/{lead_id:uuid}/follow-ups")
    async def follow_up(self, request: Request[Any, Any, Any], console: NamedDependency[Console], viewer: NamedDependency[Viewer],
                        lead_id: uuid.UUID, data: FormData) -> Any:
        form = form_lists(data)
        parsed = forms.follow_up(form)
        if not parsed.ok:
            return await lead_page(request, console, viewer, lead_id, errors=parsed.errors, values=data,
                                   status_code=422)
        try:
            await viewer.caller.post("pool", f"/v1/leads/{lead_id}/follow-ups", parsed.body)
        except ApiError as exc:
            return await lead_page(request, console, viewer, lead_id, values=data, status_code=exc.status,
                                   failure=api_failure(exc))
        return redirect(f"/leads/{lead_id}", ok="followed_up")

    @post("/leads/{lead_id:uuid}/release")
    async def release(self, request: Request[Any, Any, Any], console: NamedDependency[Console], viewer: NamedDependency[Viewer],
                      lead_id: uuid.UUID, data: FormData) -> Any:
        lead = await viewer.caller.get("pool", f"/v1/leads/{lead_id}")
        document, _ = await attempt(viewer.caller.get("pool", "/v1/pools/document"))
        reasons = [r["code"] for r in pool_reasons(document, lead.get("pool_id"))]
        parsed = forms.release(form_lists(data), reasons)
        if not parsed.ok:
            return await lead_page(request, console, viewer, lead_id, errors=parsed.errors, values=data,
                                   status_code=422)
        try:
            await viewer.caller.post("pool", f"/v1/leads/{lead_id}/release", parsed.body)
        except ApiError as exc:
            return redirect(f"/leads/{lead_id}", error=api_failure(exc))
        return redirect("/my/leads", ok="released")

    @post("/leads/{lead_id:uuid}/convert")
    async def convert(self, request: Request[Any, Any, Any], console: NamedDependency[Console], viewer: NamedDependency[Viewer],
                      lead_id: uuid.UUID, data: FormData) -> Any:
        parsed = forms.convert(form_lists(data))
        if not parsed.ok:
            return await lead_page(request, console, viewer, lead_id, errors=parsed.errors, values=data,
                                   status_code=422)
        try:
            known = await viewer.caller.get("opportunity", f"/v1/leads/{lead_id}")
            if not known.get("accepted_at"):  # 销售认可 first: the owner takes it as sales-qualified
                await viewer.caller.post("opportunity", f"/v1/leads/{lead_id}/accept")
            await viewer.caller.post("opportunity", f"/v1/leads/{lead_id}/convert", parsed.body)
        except ApiError as exc:
            return await lead_page(request, console, viewer, lead_id, values=data, status_code=exc.status,
                                   failure=api_failure(exc))
        return redirect("/my/opportunities", ok="converted")

    @get("/my/opportunities")
    async def opportunities(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        rows, pipeline = await asyncio.gather(
            viewer.caller.get("opportunity", "/v1/opportunities/", {"owner": viewer.id, "limit": 200}),
            viewer.caller.get("opportunity", "/v1/pipeline/"))
        return render(request, "opportunities.html", viewer, opportunities=rows, pipeline=pipeline)

    @post("/opportunities/{opportunity_id:uuid}/stage")
    async def move(self, viewer: NamedDependency[Viewer], opportunity_id: uuid.UUID, data: FormData) -> Redirect:
        pipeline = await viewer.caller.get("opportunity", "/v1/pipeline/")
        parsed = forms.move(form_lists(data), [s["id"] for s in pipeline.get("stages", [])],
                            [r["id"] for r in pipeline.get("lost_reasons", [])])
        if not parsed.ok:
            field, key = next(iter(parsed.errors.items()))
            return redirect("/my/opportunities", error=f"{viewer.t('opportunity.' + field if field != 'to' else 'opportunity.move')}: {viewer.t(key)}")
        try:
            await viewer.caller.post("opportunity", f"/v1/opportunities/{opportunity_id}/stage", parsed.body)
        except ApiError as exc:
            return redirect("/my/opportunities", error=api_failure(exc))
        return redirect("/my/opportunities", ok="moved")

    @get("/my/notifications")
    async def notifications(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        page, failure = await attempt(viewer.caller.get("notify", "/v1/notifications",
                                                        {"person": viewer.id, "limit": 100}))
        items = page.get("notifications", []) if isinstance(page, dict) else (page or [])
        return render(request, "notifications.html", viewer, notifications=items,
                      failure=api_failure(failure) if failure else None)


class SettingsController(PageController):
    """My notification settings (消息设置): the channels notify reaches me on, quiet hours, the news I want."""

    path = "/my/notifications"

    @get("/settings")
    async def form(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer]) -> Template:
        stored, failure = await attempt(viewer.caller.get("notify", f"/v1/recipients/{viewer.id}"))
        missing = failure is not None and failure.status == 404
        return settings_page(request, viewer, forms.recipient_values(stored), {},
                             None if failure is None or missing else api_failure(failure))

    @post("/settings")
    async def save(self, request: Request[Any, Any, Any], viewer: NamedDependency[Viewer], data: FormData) -> Any:
        form = form_lists(data)
        parsed = forms.recipient(form)
        values = {**{k: v[0] for k, v in form.items()}, "kinds": form.get("kinds", [])}
        if not parsed.ok:
            return settings_page(request, viewer, values, parsed.errors, None, status_code=422)
        _, failure = await attempt(viewer.caller.put("notify", f"/v1/recipients/{viewer.id}", parsed.body))
        if failure:
            return settings_page(request, viewer, values, {}, api_failure(failure), status_code=failure.status)
        return redirect("/my/notifications/settings", ok="settings_saved")

    @post("/test")
    async def test(self, viewer: NamedDependency[Viewer]) -> Redirect:
        _, failure = await attempt(viewer.caller.post("notify", f"/v1/recipients/{viewer.id}/test"))
        if failure:
            return redirect("/my/notifications/settings", error=api_failure(failure))
        return redirect("/my/notifications", ok="test_queued")


def settings_page(request: Request[Any, Any, Any], viewer: Viewer, values: dict[str, Any], errors: dict[str, str],
                  failure: str | None, status_code: int = 200) -> Template:
    return render(request, "notification_settings.html", viewer, status_code=status_code, values=values,
                  errors=errors, failure=failure, kinds=forms.NEWS_KINDS)


async def lead_page(request: Request[Any, Any, Any], console: NamedDependency[Console], viewer: NamedDependency[Viewer], lead_id: uuid.UUID, *,
                    errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                    failure: str | None = None, status_code: int = 200) -> Template:
    """A lead: where it is (pool), its score and why (scoring), why it went where it did (assignment), its
    timeline with duplicate warnings (pool), what it converted into (opportunity). A part a service cannot
    give now says so; the rest shows."""
    caller = viewer.caller
    lead = await caller.get("pool", f"/v1/leads/{lead_id}")  # no lead, no page: its refusal is the page
    (score, score_failure), (assigned, assigned_failure), (timeline, timeline_failure), (known, _), \
        (document, _) = await asyncio.gather(
            attempt(caller.get("scoring", f"/v1/leads/{lead_id}/score")),
            attempt(caller.get("assignment", f"/v1/leads/{lead_id}/assignment")),
            attempt(caller.get("pool", f"/v1/leads/{lead_id}/timeline", {"limit": 100})),
            attempt(caller.get("opportunity", f"/v1/leads/{lead_id}")),
            attempt(caller.get("pool", "/v1/pools/document")))
    entries = (timeline or {}).get("entries", [])
    duplicates = [e for e in entries if e.get("kind") == "duplicate"]
    mine = lead.get("owner_id") == viewer.id and lead.get("status") == "owned"
    return render(request, "lead.html", viewer, status_code=status_code, lead=lead, lead_id=str(lead_id),
                  score=score, score_failure=score_failure and api_failure(score_failure),
                  assigned=assigned, assigned_failure=assigned_failure and api_failure(assigned_failure),
                  timeline=entries, timeline_failure=timeline_failure and api_failure(timeline_failure),
                  duplicates=duplicates, known=known, mine=mine, may_work=mine or viewer.is_manager,
                  reasons=pool_reasons(document, lead.get("pool_id")), follow_up_types=forms.FOLLOW_UP_TYPES,
                  errors=errors or {}, values=values or {}, failure=failure)
