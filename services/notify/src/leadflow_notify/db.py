"""notify's writes: recipients, the reps' teams, and the messages (queued by the consumers in the transaction that
records the event processed, claimed and settled by the dispatcher). Tables in tables.py, reads in views.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow_notify.domain.delivery import Planned, Status
from leadflow_notify.domain.model import WATCH_ALL, Channel, ChannelTarget, Kind, QuietHours, Recipient
from leadflow_notify.tables import metadata, notifications, recipients, rep_teams

__all__ = ["metadata", "RecipientRepository", "NotificationRepository", "learn_teams", "teams_of"]


def recipient_of(row: Mapping[str, Any]) -> Recipient:
    quiet = QuietHours(row["quiet_start"], row["quiet_end"]) if row["quiet_start"] and row["quiet_end"] else None
    channels = tuple(ChannelTarget(Channel(c["channel"]), {k: v for k, v in c.items() if k != "channel"})
                     for c in row["channels"])
    return Recipient(person_id=row["person_id"], display_name=row["display_name"], language=row["language"],
                     timezone=row["timezone"], quiet_hours=quiet, kinds=frozenset(Kind(k) for k in row["kinds"]),
                     watch_teams=frozenset(row["watch_teams"]), channels=channels)


def _row(recipient: Recipient) -> dict[str, Any]:
    quiet = recipient.quiet_hours
    return {"display_name": recipient.display_name, "language": recipient.language, "timezone": recipient.timezone,
            "quiet_start": quiet.start if quiet else None, "quiet_end": quiet.end if quiet else None,
            "kinds": sorted(str(k) for k in recipient.kinds), "watch_teams": sorted(recipient.watch_teams),
            "channels": [{"channel": str(t.channel), **t.fields} for t in recipient.channels]}


class RecipientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: str, *, lock: bool = False) -> Recipient | None:
        query = select(recipients).where(recipients.c.person_id == person_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).mappings().first()
        return recipient_of(row) if row else None

    async def of_people(self, people: Iterable[str]) -> dict[str, Recipient]:
        ids = sorted(set(people))
        if not ids:
            return {}
        rows = (await self.session.execute(select(recipients).where(recipients.c.person_id.in_(ids)))).mappings()
        return {row["person_id"]: recipient_of(row) for row in rows}

    async def watching(self, teams: Iterable[str]) -> dict[str, Recipient]:
        """Those who watch any of these teams, or every team."""
        watched = sorted({*teams, WATCH_ALL})
        rows = (await self.session.execute(
            select(recipients).where(recipients.c.watch_teams.overlap(watched)))).mappings()
        return {row["person_id"]: recipient_of(row) for row in rows}

    async def put(self, recipient: Recipient, by: str) -> None:
        """Store the recipient whole."""
        values = {**_row(recipient), "updated_by": by, "updated_at": func.now()}
        await self.session.execute(insert(recipients).values(person_id=recipient.person_id, **values)
                                   .on_conflict_do_update(index_elements=["person_id"], set_=values))

    async def delete(self, person_id: str) -> bool:
        result = await self.session.execute(delete(recipients).where(recipients.c.person_id == person_id))
        return bool(result.rowcount)


async def learn_teams(session: AsyncSession, rows: Sequence[tuple[str, str, datetime]]) -> None:
    """Each rep's team as of their latest assignment (person, team, assigned_at): one told late changes nothing."""
    latest: dict[str, tuple[str, datetime]] = {}
    for person, team, at in rows:
        if person not in latest or latest[person][1] <= at:
            latest[person] = (team, at)
    if not latest:
        return
    statement = insert(rep_teams).values([{"person_id": p, "team_id": t, "assigned_at": at}
                                          for p, (t, at) in sorted(latest.items())])
    await session.execute(statement.on_conflict_do_update(
        index_elements=["person_id"], set_={"team_id": statement.excluded.team_id,
                                            "assigned_at": statement.excluded.assigned_at},
        where=rep_teams.c.assigned_at <= statement.excluded.assigned_at))


async def teams_of(session: AsyncSession, people: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(people))
    if not ids:
        return {}
    rows = await session.execute(select(rep_teams.c.person_id, rep_teams.c.team_id)
                                 .where(rep_teams.c.person_id.in_(ids)))
    return {person: team for person, team in rows}


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def queue(self, planned: Sequence[Planned]) -> list[tuple[int, str]]:
        """Queue the messages; one already queued for its (event, person, channel) is left as it is. The (id,
        channel) of each queued now."""
        if not planned:
            return []
        result = await self.session.execute(
            insert(notifications).values([p.row() for p in planned])
            .on_conflict_do_nothing(index_elements=["event_id", "person_id", "channel"])
            .returning(notifications.c.id, notifications.c.channel))
        return [(row[0], row[1]) for row in result]

    async def claim_due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Due messages with their recipients (None when removed), locked; replicas skip each other's."""
        n = notifications.c
        rows = await self.session.execute(
            select(n.id, n.person_id, n.channel, n.title, n.body, n.attempts, n.kind,
                   *(c.label(f"r_{c.name}") for c in recipients.c))
            .select_from(notifications.outerjoin(recipients, recipients.c.person_id == n.person_id))
            .where(n.status == Status.pending, n.next_attempt_at <= now)
            .order_by(n.next_attempt_at, n.id).limit(limit)
            .with_for_update(of=notifications, skip_locked=True))
        claimed = []
        for row in rows.mappings():
            person = {c.name: row[f"r_{c.name}"] for c in recipients.c}
            message = {k: row[k] for k in ("id", "person_id", "channel", "title", "body", "attempts", "kind")}
            claimed.append({**message, "recipient": recipient_of(person) if person["person_id"] is not None else None})
        return claimed

    async def lease(self, ids: Sequence[int], until: datetime) -> None:
        """A try starts: counted, and due again at `until` should its outcome never be recorded."""
        if ids:
            await self.session.execute(update(notifications).where(notifications.c.id.in_(ids))
                                       .values(attempts=notifications.c.attempts + 1, next_attempt_at=until))

    async def postpone(self, message_id: int, until: datetime) -> None:
        await self.session.execute(update(notifications).where(notifications.c.id == message_id)
                                   .values(next_attempt_at=until))

    async def settle(self, message_id: int, attempts: int, status: Status, *, now: datetime,
                     next_attempt_at: datetime | None = None, error: str | None = None) -> bool:
        """Record a try's outcome, unless the message moved on meanwhile (its lease ran out and another try
        began); whether it was recorded."""
        values: dict[str, Any] = {"status": status, "next_attempt_at": next_attempt_at}
        if status == Status.sent:
            values["sent_at"] = now
        if error is not None:
            values["last_error"] = error
        result = await self.session.execute(
            update(notifications).where(notifications.c.id == message_id, notifications.c.attempts == attempts,
                                        notifications.c.status == Status.pending).values(**values))
        return bool(result.rowcount)

    async def give_up(self, message_id: int, error: str) -> None:
        await self.session.execute(update(notifications).where(notifications.c.id == message_id)
                                   .values(status=Status.failed, next_attempt_at=None, last_error=error))

