"""notify's HTTP API for staff (a staff token; see leadflow_shared.staff): each person's channels, language,
timezone, quiet hours and the kinds of news they want (`/v1/recipients`), and the record of every message sent,
pending or failed (`/v1/notifications`).

A person keeps their own settings; a manager or an admin keeps anyone's. Watching a team (its collusion flags)
takes managing it (`*`, every team: an admin). Refusals carry a stable `code` and their reason in the caller's
language (Accept-Language: zh or en); a refused document lists every problem with its path."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from leadflow_notify import views
from leadflow_notify.bootstrap import Notify
from leadflow_notify.db import NotificationRepository, RecipientRepository
from leadflow_notify.domain.delivery import Status, plan_trial
from leadflow_notify.domain.model import EVENT_KINDS, WATCH_ALL, Channel, Kind
from leadflow_notify.domain.recipients import InvalidRecipient, added_teams, parse_recipient
from leadflow_shared.documents import DocumentError
from leadflow_shared.http import body_document, invalid_document, language, refused
from leadflow_shared.refusals import Refusal, Refused
from leadflow_shared.staff import Role, Staff, staff_roles

ANY_STAFF = staff_roles(Role.rep, Role.sdr, Role.manager, Role.admin)
MANAGERS = staff_roles(Role.manager, Role.admin)


def invalid_recipient(request: Request[Any, Any, Any], exc: InvalidRecipient) -> Response[dict[str, Any]]:
    """A recipient document refused whole: every problem with its path, in the caller's language."""
    lang = language(request)
    detail = "收件人设置有误，未做任何变更" if lang == "zh" else "the recipient was refused whole: nothing was changed"
    return Response({"status_code": 422, "code": "invalid_recipient", "detail": detail,
                     "errors": [{"path": i.path, "message": i.text(lang)} for i in exc.issues]}, status_code=422)


def bad_cursor(request: Request[Any, Any, Any], exc: views.BadCursor) -> Response[dict[str, Any]]:
    return refused(request, _refuse(400, "bad_cursor", "`cursor` is not one this API gave",
                                    "`cursor` 不是本接口给出的游标"))


EXCEPTION_HANDLERS = {Refused: refused, DocumentError: invalid_document, InvalidRecipient: invalid_recipient,
                      views.BadCursor: bad_cursor}


def _refuse(status: int, code: str, en: str, zh: str) -> Refused:
    return Refused(Refusal(status, code, en, zh))


def sees_everyone(staff: Staff) -> bool:
    return staff.has(Role.manager, Role.admin)


def _person(person_id: str, staff: Staff) -> str:
    """The person a call is about, if the caller may act for them (themself, or a manager or an admin)."""
    person_id = person_id.strip()
    if not person_id or len(person_id) > 100:
        raise _refuse(400, "bad_person", "a person id has 1 to 100 characters", "人员 ID 须为 1 到 100 个字符")
    if person_id != staff.id and not sees_everyone(staff):
        raise _refuse(403, "not_yours", "only the person themself, a manager or an admin may do this",
                      "只有本人、主管或管理员可以这样做")
    return person_id


def _unknown(person_id: str) -> Refused:
    return _refuse(404, "unknown_recipient", f"no notification settings for {person_id}", f"{person_id} 尚未设置通知")


class RecipientController(Controller):
    path = "/v1/recipients"
    tags = ["recipients"]

    @get("/", guards=[MANAGERS], summary="Everyone's notification settings (secrets masked), by person id")
    async def index(self, notify: NamedDependency[Notify],
                    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
                    offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> list[dict[str, Any]]:
        return await views.list_recipients(notify.db, limit, offset)

    @get("/{person_id:str}", guards=[ANY_STAFF],
         summary="A person's notification settings, secrets masked (themself, a manager or an admin)")
    async def show(self, person_id: FromPath[str], notify: NamedDependency[Notify],
                   staff: NamedDependency[Staff]) -> dict[str, Any]:
        person_id = _person(person_id, staff)
        found = await views.recipient(notify.db, person_id)
        if found is None:
            raise _unknown(person_id)
        return found

    @put("/{person_id:str}", guards=[ANY_STAFF], status_code=HTTP_200_OK,
         summary="Set a person's channels (dingtalk, wecom, lark, feishu, email), language, timezone, quiet "
                 "hours and kinds of news, replaced whole (JSON or YAML body); a masked secret sent back keeps its "
                 "value. 201 new, 200 replaced; 422 lists every problem")
    async def replace(self, person_id: FromPath[str], request: Request[Any, Any, Any],
                      notify: NamedDependency[Notify], staff: NamedDependency[Staff]) -> Response[dict[str, Any]]:
        person_id = _person(person_id, staff)
        doc = await body_document(request)
        async with notify.db.uow() as uow:
            repo = RecipientRepository(uow.session)
            stored = await repo.get(person_id, lock=True)
            recipient = parse_recipient(person_id, doc, stored=stored, available=notify.sender.available)
            refused_teams = sorted(t for t in added_teams(recipient, stored)
                                   if not (staff.is_admin if t == WATCH_ALL else staff.manages(t)))
            if refused_teams:
                teams = ", ".join(refused_teams)
                raise _refuse(403, "cannot_watch", f"you may not watch {teams}: only teams you manage (* takes an "
                                                   "admin)", f"您不能关注 {teams}：只能关注您管理的团队（* 仅限管理员）")
            await repo.put(recipient, staff.id)
            await uow.commit()
        shown = await views.recipient(notify.db, person_id)
        return Response(shown, status_code=HTTP_201_CREATED if stored is None else HTTP_200_OK)

    @delete("/{person_id:str}", guards=[ANY_STAFF], status_code=HTTP_204_NO_CONTENT,
            summary="Stop notifying a person: their settings go; messages still pending are not sent")
    async def remove(self, person_id: FromPath[str], notify: NamedDependency[Notify],
                     staff: NamedDependency[Staff]) -> None:
        person_id = _person(person_id, staff)
        async with notify.db.uow() as uow:
            gone = await RecipientRepository(uow.session).delete(person_id)
            await uow.commit()
        if not gone:
            raise _unknown(person_id)

    @post("/{person_id:str}/test", guards=[ANY_STAFF], status_code=HTTP_202_ACCEPTED,
          summary="Queue a test message on each of the person's channels, now (quiet hours or not); its record "
                  "shows whether it went")
    async def trial(self, person_id: FromPath[str], notify: NamedDependency[Notify],
                    staff: NamedDependency[Staff]) -> dict[str, Any]:
        person_id = _person(person_id, staff)
        async with notify.db.uow() as uow:
            recipient = await RecipientRepository(uow.session).get(person_id)
            if recipient is None:
                raise _unknown(person_id)
            if not recipient.channels:
                raise _refuse(409, "no_channels", f"{person_id} has no channels to test", f"{person_id} 没有可测试的渠道")
            trial = plan_trial(uuid.uuid4(), recipient, notify.clock())
            queued = await NotificationRepository(uow.session).queue(trial)
            await uow.commit()
        notify.dispatcher.wake()
        return {"person_id": person_id, "queued": [message_id for message_id, _ in queued]}


STATUSES = [str(s) for s in Status]
KINDS = [str(k) for k in (*EVENT_KINDS, Kind.test)]
CHANNELS = [str(c) for c in Channel]


def _known(values: list[str] | None, allowed: list[str], name: str) -> tuple[str, ...]:
    unknown = [v for v in values or () if v not in allowed]
    if unknown:
        raise _refuse(400, f"unknown_{name}",
                      f"{name} must be among {', '.join(allowed)} (not {', '.join(unknown)})",
                      f"{name} 须为以下之一：{'、'.join(allowed)}（而非 {'、'.join(unknown)}）")
    return tuple(values or ())


class NotificationController(Controller):
    path = "/v1/notifications"
    tags = ["notifications"]

    @get("/", guards=[ANY_STAFF],
         summary="Every message sent, pending or failed, newest first, a page at a time (`next_cursor`): a rep's "
                 "own, anyone's for managers and admins")
    async def index(
        self, notify: NamedDependency[Notify], staff: NamedDependency[Staff],
        person: Annotated[list[str] | None, QueryParameter(description="Staff ids (repeat for several)")] = None,
        status: Annotated[list[str] | None, QueryParameter(description=" | ".join(STATUSES))] = None,
        kind: Annotated[list[str] | None, QueryParameter(description=" | ".join(KINDS))] = None,
        channel: Annotated[list[str] | None, QueryParameter(description=" | ".join(CHANNELS))] = None,
        lead_id: Annotated[uuid.UUID | None, QueryParameter(description="Messages about this lead")] = None,
        since: Annotated[datetime | None, QueryParameter(description="Queued at or after (with an offset)")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(description="`next_cursor` of the page before")] = None,
    ) -> dict[str, Any]:
        people = tuple(person or ())
        if not sees_everyone(staff):
            if any(p != staff.id for p in people):
                raise _refuse(403, "not_yours", "you may see your own messages only", "您只能查看自己的消息")
            people = (staff.id,)
        flt = views.NotificationFilter(people, _known(status, STATUSES, "status"), _known(kind, KINDS, "kind"),
                                       _known(channel, CHANNELS, "channel"), lead_id, since)
        rows, following = await views.notifications_page(notify.db, flt, limit, cursor)
        return {"notifications": rows, "next_cursor": following}


CONTROLLERS = [RecipientController, NotificationController]

__all__ = ["CONTROLLERS", "EXCEPTION_HANDLERS"]
