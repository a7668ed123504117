"""intake's HTTP API for channel partners: leads one by one or in batches, imports, status, settlement."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import Body, FromPath, Parameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_422_UNPROCESSABLE_ENTITY
from pydantic import BaseModel

from leadflow_intake import imports as imports_mod
from leadflow_intake import views
from leadflow_intake.bootstrap import Intake
from leadflow_intake.db import IdempotencyRepository, PartnerRepository
from leadflow_intake.domain.errors import FieldError, preferred_language
from leadflow_intake.domain.lead import CleanLead, clean
from leadflow_intake.schemas import BatchIn, LeadIn, ProblemOut, validate_lead
from leadflow_intake.partners import KeyCache, Partner, hash_key
from leadflow_shared.db import Database, UnitOfWork
from leadflow_shared.staff import Role, staff_roles

PROBLEM = ResponseSpec(data_container=ProblemOut, description="Invalid input: every problem as {field, code, message}")
UNAUTHORIZED = ResponseSpec(data_container=None, description="No API key, or a revoked one")
TOO_MANY = ResponseSpec(data_container=None, description="Over the partner's rate; see Retry-After")
YIELD_EVERY = 100  # leads validated between two turns of the event loop
PARTNER = {"auth": "partner"}  # every handler here is called with a partner's API key (no staff token)

# ---- partner authentication and rate -------------------------------------------------------


async def provide_partner(request: Request[Any, Any, Any], intake: NamedDependency[Intake]) -> Partner:
    """`Authorization: Bearer <key>` → the partner; 401 without a live key, 429 over its rate."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("an API key is needed: Authorization: Bearer <key>")
    partner = await _partner_of(hash_key(key.strip()), intake.db, intake.key_cache)
    if partner is None:
        raise NotAuthorizedException("unknown or revoked API key")
    wait = intake.rate_limiter.retry_after(partner)
    if wait is not None:
        raise HTTPException(status_code=429, detail=f"over {partner.rate_per_s:g} requests/s",
                            headers={"Retry-After": str(wait)})
    return partner


async def _partner_of(key_hash: str, db: Database, cache: KeyCache[Partner]) -> Partner | None:
    known, partner = cache.get(key_hash)
    if known:
        return partner
    async with db.uow() as uow:
        row = await PartnerRepository(uow.session).by_key_hash(key_hash)
    partner = Partner(row["id"], row["name"], row["rate_per_s"]) if row and row["revoked_at"] is None else None
    cache.put(key_hash, partner)
    return partner


def _problem(errors: list[FieldError], request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    language = preferred_language(request.headers.get("accept-language"))
    return Response({"errors": [e.as_dict(language) for e in errors]}, status_code=HTTP_422_UNPROCESSABLE_ENTITY)


_LITESTAR_CODES = (("Extra inputs", "unknown_field"), ("Field required", "missing"), ("at most", "too_long"))


def validation_problem(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """litestar's own body validation (types, unknown fields) in the same 422 shape as ours."""
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        code = next((c for text, c in _LITESTAR_CODES if text in message), "invalid_value")
        field = str(item.get("key") or "body") if isinstance(item, dict) else "body"
        errors.append(FieldError(field, code, message))
    return _problem(errors or [FieldError("body", "invalid_value", str(exc.detail))], request)


# ---- idempotency -----------------------------------------------------------------------------


def _request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


async def _validated(leads: list[Any]) -> list[CleanLead | list[FieldError]]:
    """Each lead cleaned, or its errors. A slice at a time: between slices the event loop serves the
    relay and single posts, which would otherwise wait for the whole batch (~0.1 ms a lead)."""
    checked: list[CleanLead | list[FieldError]] = []
    for start in range(0, len(leads), YIELD_EVERY):
        checked += [validate_lead(raw) for raw in leads[start:start + YIELD_EVERY]]
        await asyncio.sleep(0)
    return checked


class LeadController(Controller):
    path = "/v1"
    tags = ["leads"]
    dependencies = {"partner": Provide(provide_partner)}
    opt = PARTNER

    @post("/leads", status_code=HTTP_202_ACCEPTED, summary="Submit one lead",
          description="202 with the outcome: created, merged into an existing lead (duplicate_of), or flagged "
                      "(stored, held back as suspicious). 422 lists every problem as {field, code, message}, "
                      "in Chinese or English by Accept-Language. Idempotency-Key makes retries safe.",
          responses={422: PROBLEM, 401: UNAUTHORIZED, 429: TOO_MANY})
    async def submit(
        self, request: Request[Any, Any, Any], data: LeadIn,
        partner: NamedDependency[Partner], intake: NamedDependency[Intake],
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key", max_length=200)] = None,
    ) -> Response[Any]:
        lead = clean(data.model_dump(mode="json", exclude_none=True))
        if isinstance(lead, list):
            return _problem(lead, request)

        if idempotency_key is None:  # committed with the other posts waiting (see group_commit)
            accepted = await intake.group_committer.submit(lead, partner.id)
            return Response(accepted.as_dict(), status_code=HTTP_202_ACCEPTED)

        async def accept(uow: UnitOfWork) -> tuple[int, Any]:
            accepted = await intake.pipeline.submit(uow, [lead], partner_id=partner.id)
            return HTTP_202_ACCEPTED, accepted[0].as_dict()

        return await _idempotent(request, intake.db, partner, idempotency_key, data, accept)

    @post("/leads/batch", status_code=HTTP_202_ACCEPTED, summary="Submit up to 1,000 leads",
          responses={422: PROBLEM, 401: UNAUTHORIZED, 429: TOO_MANY},
          description="Results come back in order, one per lead: accepted ones as POST /v1/leads answers, "
                      "refused ones with their errors. A bad lead never sinks the others.")
    async def submit_batch(
        self, request: Request[Any, Any, Any], data: BatchIn, partner: NamedDependency[Partner],
        intake: NamedDependency[Intake],
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key", max_length=200)] = None,
    ) -> Response[Any]:
        if len(data.leads) > intake.settings.intake_batch_max:
            return _problem([FieldError("leads", "too_many_leads")], request)
        language = preferred_language(request.headers.get("accept-language"))
        checked = await _validated(data.leads)
        valid = [lead for lead in checked if not isinstance(lead, list)]

        async def accept(uow: UnitOfWork) -> tuple[int, Any]:
            accepted = iter(await intake.pipeline.submit(uow, valid, partner_id=partner.id))
            results = [
                {"index": i, "status": "rejected", "errors": [e.as_dict(language) for e in lead]}
                if isinstance(lead, list) else {"index": i, "status": "accepted", **next(accepted).as_dict()}
                for i, lead in enumerate(checked)
            ]
            counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "rejected")}
            return HTTP_202_ACCEPTED, {"results": results, **counts}

        return await _idempotent(request, intake.db, partner, idempotency_key, data, accept)

    @get("/leads/{lead_id:uuid}", summary="One of your leads and its status so far")
    async def show(self, lead_id: FromPath[uuid.UUID], partner: NamedDependency[Partner],
                   intake: NamedDependency[Intake]) -> dict[str, Any]:
        rows = await views.lead_submissions(intake.db, partner.id, lead_id)
        if not rows:
            raise NotFoundException(f"you have submitted no lead {lead_id}")  # never another partner's
        return {
            "lead_id": str(lead_id), "status": rows[0].status,
            "submissions": [{"submission_id": str(r.id), "outcome": r.outcome, "received_at": r.received_at.isoformat(),
                             "fields": r.fields} for r in rows],
        }

    @get("/submissions", summary="Your submissions and their outcomes, for settlement")
    async def list_submissions(
        self, partner: NamedDependency[Partner], intake: NamedDependency[Intake],
        since: Annotated[datetime | None, Parameter(query="since", description="ISO time; oldest first from it")] = None,
        after: Annotated[str | None, Parameter(query="after", description="`next` of the previous page")] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        rows = await views.submissions_page(intake.db, partner.id, since=since, after=_cursor(after), limit=limit)
        items = [{"submission_id": str(r.id), "lead_id": str(r.lead_id), "outcome": r.outcome,
                  "duplicate_of": str(r.duplicate_of) if r.duplicate_of else None,
                  "received_at": r.received_at.isoformat(), "lead_status": r.status} for r in rows]
        return {"submissions": items,
                "next": f"{rows[-1].received_at.isoformat()}|{rows[-1].id}" if len(rows) == limit else None}


def _cursor(after: str | None) -> tuple[datetime, uuid.UUID] | None:
    """`next` of a page ("<received_at>|<submission id>") as the position to go on from."""
    if not after:
        return None
    at, _, last_id = after.partition("|")
    try:
        return datetime.fromisoformat(at), uuid.UUID(last_id)
    except ValueError as exc:
        raise ValidationException("`after` is not a cursor this API gave") from exc


async def _idempotent(request: Request[Any, Any, Any], db: Database, partner: Partner, key: str | None,
                      body: BaseModel, action: Any) -> Response[Any]:
    async with db.uow() as uow:
        keys = IdempotencyRepository(uow.session)
        if key:
            # Only a keyed request pays for the hash (and the body's serialization it needs).
            request_hash = _request_hash(body.model_dump(mode="json"))
            earlier = await keys.claim(partner.id, key, request_hash)
            if earlier is not None and earlier["request_hash"] != request_hash:
                return _problem([FieldError("Idempotency-Key", "idempotency_key_reused")], request)
            if earlier is not None:
                return Response(earlier["response"], status_code=earlier["status_code"],
                                headers={"Idempotent-Replayed": "true"})
        status, answer = await action(uow)
        if key:
            await keys.remember(partner.id, key, status, answer)
        await uow.commit()
    return Response(answer, status_code=status)


class ImportController(Controller):
    path = "/v1/imports"
    tags = ["imports"]
    dependencies = {"partner": Provide(provide_partner)}
    opt = PARTNER

    @post("/", status_code=HTTP_202_ACCEPTED, summary="Bulk import (批量导入) a CSV or XLSX file",
          description="Multipart form: `file`, and optionally `mapping`, a JSON object from your column headers "
                      "to lead fields. Chinese headers (姓名, 手机, 微信, 邮箱, 公司名称, …) are understood.")
    async def create(
        self, request: Request[Any, Any, Any],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
        partner: NamedDependency[Partner], intake: NamedDependency[Intake],
    ) -> Response[Any]:
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            return _problem([FieldError("file", "missing")], request)
        content = await upload.read()
        if len(content) > intake.settings.intake_import_max_bytes:
            return _problem([FieldError("file", "too_long")], request)
        try:
            mapping = json.loads(data["mapping"]) if data.get("mapping") else {}
            if not isinstance(mapping, dict):
                raise ValueError
        except ValueError:
            return _problem([FieldError("mapping", "invalid_value", "a JSON object {column: field}")], request)
        try:
            total = imports_mod.count_rows(upload.filename or "", content)
        except imports_mod.UnreadableFile as exc:
            return _problem([FieldError("file", "unreadable_file", str(exc))], request)
        mapping["__language__"] = preferred_language(request.headers.get("accept-language"))  # for the report
        import_id = await imports_mod.enqueue(intake.db, partner.id, upload.filename or "upload", content, mapping,
                                              total)
        intake.imports.wake()
        return Response({"import_id": str(import_id), "status": "queued", "total": total,
                         "progress_url": f"/v1/imports/{import_id}"}, status_code=HTTP_202_ACCEPTED)

    @get("/{import_id:uuid}", summary="An import's progress and counts")
    async def show(self, import_id: FromPath[uuid.UUID], partner: NamedDependency[Partner],
                   intake: NamedDependency[Intake]) -> dict[str, Any]:
        found = await imports_mod.progress(intake.db, import_id, partner.id)
        if found is None:
            raise NotFoundException(f"you have no import {import_id}")
        return found

    @get("/{import_id:uuid}/rejected.csv", summary="The rejected rows, with their reasons", media_type="text/csv")
    async def rejected(self, import_id: FromPath[uuid.UUID], partner: NamedDependency[Partner],
                       intake: NamedDependency[Intake]) -> Response[bytes]:
        report = await imports_mod.rejected_csv(intake.db, import_id, partner.id)
        if report is None:
            raise NotFoundException(f"you have no import {import_id}")
        return Response(report, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-rejected.csv"'})


REPORT_ZONE = ZoneInfo("Asia/Shanghai")


class SubmissionReportController(Controller):
    """Managers' view of what each channel partner submitted (渠道报备统计), for settlement and quality."""

    path = "/v1/reports"
    tags = ["reports"]

    @get("/submissions", guards=[staff_roles(Role.manager, Role.admin, Role.finance)],
         summary="Submissions per partner between two days (inclusive, China time): created, merged, flagged")
    async def submissions(
        self, intake: NamedDependency[Intake],
        from_: Annotated[date | None, Parameter(query="from", description="First day (default: 30 days ago)")] = None,
        to: Annotated[date | None, Parameter(description="Last day, inclusive (default: today)")] = None,
    ) -> dict[str, Any]:
        end = to or datetime.now(REPORT_ZONE).date()
        start = from_ or end - timedelta(days=29)
        if start > end:
            raise HTTPException(status_code=400, detail="`from` is after `to` / 开始日期晚于结束日期")
        rows = await views.partner_submission_counts(
            intake.db, datetime.combine(start, time.min, REPORT_ZONE),
            datetime.combine(end + timedelta(days=1), time.min, REPORT_ZONE))
        return {"from": start.isoformat(), "to": end.isoformat(), "partners": rows}
