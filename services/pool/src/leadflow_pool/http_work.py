"""pool's HTTP API of the daily work, for staff: follow-ups and visits (an SDR's verdict with them), a lead's
timeline, tasks, and the report of visits whose check-in looks mocked (模拟定位).

Refusals carry their reason in the caller's language (Accept-Language: zh or en)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from leadflow_pool import views_work
from leadflow_pool.bootstrap import Pool
from leadflow_pool.domain.follow_ups import Author
from leadflow_pool.domain.tasks import TaskStatus
from leadflow_pool.followups import FollowUpRequest, FollowUps, Recorded, TaskRequest, WorkRefused
from leadflow_pool.ownership import Refused
from leadflow_shared.language import preferred_language
from leadflow_shared.refusals import Refusal
from leadflow_shared.staff import Role, Staff, staff_roles

ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
MANAGERS = staff_roles(Role.manager, Role.admin)


def work_refused(request: Request[Any, Any, Any], exc: WorkRefused) -> Response[dict[str, Any]]:
    r = exc.refusal
    detail = r.zh if preferred_language(request.headers.get("accept-language")) == "zh" else r.en
    return Response({"status_code": r.status, "code": r.code, "detail": detail, **exc.extra}, status_code=r.status)


def bad_cursor(request: Request[Any, Any, Any], exc: views_work.BadTaskCursor) -> Response[dict[str, Any]]:
    return Response({"status_code": 400, "detail": str(exc)}, status_code=400)


# Refused (404/403/409) is answered by http.EXCEPTION_HANDLERS; these add what is particular to this module.
EXCEPTION_HANDLERS: dict[type[Exception], Any] = {WorkRefused: work_refused, views_work.BadTaskCursor: bad_cursor}


def author(staff: Staff) -> Author:
    return Author(staff.id, frozenset(staff.roles), frozenset(staff.teams))


def _recorded(r: Recorded) -> dict[str, Any]:
    return {"id": r.id, "lead_id": r.lead_id, "type": r.type, "created_at": r.created_at,
            "location_flags": r.location_flags, "inactivity_deadline": r.inactivity_deadline,
            "next_deadline": r.next_deadline, "deadline_kind": r.deadline_kind, "lead_status": r.status,
            "disposition": r.disposition, "follow_up_task_id": r.follow_up_task_id,
            "completed_tasks": r.completed_tasks}


class FollowUpController(Controller):
    path = "/v1/leads"
    tags = ["follow-ups"]

    @post("/{lead_id:uuid}/follow-ups", status_code=HTTP_201_CREATED, guards=[ANY_STAFF],
          summary="跟进: record a call, visit (with its check-in), WeChat, e-mail or meeting on a lead you hold "
                  "(managers: any lead of their teams); an SDR may add his verdict (qualified, nurture, invalid)")
    async def follow_up(self, lead_id: FromPath[uuid.UUID], data: JSONBody[FollowUpRequest],
                        pool: NamedDependency[Pool], staff: NamedDependency[Staff]) -> dict[str, Any]:
        return _recorded(await FollowUps(pool).record(lead_id, author(staff), data))

    @get("/{lead_id:uuid}/timeline", guards=[ANY_STAFF],
         summary="Everything that happened to a lead, newest first (reps and SDRs: leads they hold or held)")
    async def timeline(self, lead_id: FromPath[uuid.UUID], pool: NamedDependency[Pool],
                       staff: NamedDependency[Staff],
                       before: Annotated[int | None, QueryParameter(description="The last id of the previous page")] = None,
                       limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50) -> dict[str, Any]:
        holders = await views_work.lead_holders(pool.db, lead_id)
        if holders is None:
            raise Refused(Refusal(404, "unknown_lead", f"pool has no lead {lead_id}", f"公海中没有线索 {lead_id}"))
        held = staff.id == holders["owner_id"] or staff.id in (holders["previous_owner_ids"] or [])
        if not held and not staff.has(Role.manager, Role.admin):
            raise Refused(Refusal(403, "not_yours", f"lead {lead_id} was never yours: you read the timeline of "
                                  "leads you hold or held", f"线索 {lead_id} 从未归您负责：您只能查看自己持有或持有过的线索的动态"))
        entries, following = await views_work.timeline_page(pool.db, lead_id, before, limit)
        return {"entries": entries, "next_before": following}


class TaskController(Controller):
    path = "/v1/tasks"
    tags = ["tasks"]

    @post("/", status_code=HTTP_201_CREATED, guards=[MANAGERS],
          summary="Tasks for a list of leads (a call campaign, birthday calls…): one per lead, for the given rep "
                  "or each lead's owner; leads without either are skipped")
    async def create(self, data: JSONBody[TaskRequest], pool: NamedDependency[Pool],
                     staff: NamedDependency[Staff]) -> dict[str, Any]:
        return await FollowUps(pool).create_tasks(author(staff), data)

    @post("/{task_id:uuid}/done", status_code=HTTP_200_OK, guards=[ANY_STAFF],
          summary="Mark a task done (its assignee, or a manager)")
    async def done(self, task_id: FromPath[uuid.UUID], pool: NamedDependency[Pool],
                   staff: NamedDependency[Staff]) -> dict[str, Any]:
        return await FollowUps(pool).complete_task(task_id, author(staff))


class MyTasksController(Controller):
    path = "/v1/me"
    tags = ["tasks"]

    @get("/tasks", guards=[ANY_STAFF], summary="My tasks by due time, overdue first, a page at a time")
    async def my_tasks(self, pool: NamedDependency[Pool], staff: NamedDependency[Staff],
                       status: Annotated[TaskStatus, QueryParameter()] = TaskStatus.open,
                       limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
                       cursor: FromQuery[str | None] = None) -> dict[str, Any]:
        rows, following = await views_work.my_tasks(pool.db, staff.id, status, limit, cursor)
        return {"tasks": rows, "next_cursor": following}


class WorkReportController(Controller):
    path = "/v1/reports"
    tags = ["reports"]

    @get("/mock-locations", guards=[MANAGERS],
         summary="模拟定位: visits whose check-in repeats an earlier position to the metre or needed an "
                 "impossible speed, with the rep's previous check-in")
    async def mock_locations(self, pool: NamedDependency[Pool],
                             from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
                             to: FromQuery[datetime | None] = None, rep: FromQuery[str | None] = None,
                             limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 500) -> dict[str, Any]:
        return {"visits": await views_work.mock_locations(pool.db, from_, to, rep, limit)}


CONTROLLERS = [FollowUpController, TaskController, MyTasksController, WorkReportController]
