"""notify's subscriptions: deadline reminders, recycles, duplicate warnings (撞单提醒), assignments and collusion
flags become messages, queued in the transaction that records their events processed (a redelivered event queues
nothing twice; one message per event, person and channel in any case). Assignments also teach notify each rep's
team, for the collusion flags of the teams a manager watches."""

from __future__ import annotations

from typing import Any

from leadflow_notify import metrics
from leadflow_notify.bootstrap import Notify
from leadflow_notify.db import NotificationRepository, RecipientRepository, learn_teams, teams_of
from leadflow_notify.domain.delivery import plan, unique_people
from leadflow_notify.domain.model import Kind, Recipient
from leadflow_notify.domain.routing import TOPIC_KINDS, addressee, flagged_reps
from leadflow_shared.consumers import AnySubscription, BatchSubscription
from leadflow_shared.contracts import (
    LEADS_ASSIGNED, LEADS_COLLUSION_SUSPECTED, LEADS_DEADLINE_APPROACHING, LEADS_DUPLICATE_DETECTED, LEADS_RECYCLED,
    Topic,
)
from leadflow_shared.db import UnitOfWork
from leadflow_shared.events import CloudEvent

Events = list[CloudEvent[Any]]
TOPICS = (LEADS_DEADLINE_APPROACHING, LEADS_RECYCLED, LEADS_DUPLICATE_DETECTED, LEADS_ASSIGNED,
          LEADS_COLLUSION_SUSPECTED)
BATCH = 200


def subscriptions(notify: Notify) -> list[AnySubscription]:
    def handler(topic: Topic) -> BatchSubscription:
        kind = TOPIC_KINDS[topic.name]

        async def handle(events: Events, uow: UnitOfWork) -> None:
            await queue(notify, topic, kind, events, uow)

        return BatchSubscription(topic, handle, max_records=BATCH)

    return [handler(topic) for topic in TOPICS]


async def queue(notify: Notify, topic: Topic, kind: Kind, events: Events, uow: UnitOfWork) -> None:
    """Queue the messages these events cause (in the caller's transaction)."""
    session, now = uow.session, notify.clock()
    if kind == Kind.assigned:
        await learn_teams(session, [(e.data.owner_id, e.data.team_id, e.data.assigned_at) for e in events
                                    if e.data.owner_id and e.data.team_id])
    people = RecipientRepository(session)
    team_of: dict[str, str] = {}
    known: dict[str, Recipient]
    if kind == Kind.collusion:
        team_of = await teams_of(session, {rep for e in events for rep in flagged_reps(e.data)})
        known = await people.watching(team_of.values())
    else:
        known = await people.of_people(unique_people([addressee(kind, e.data) for e in events]))
    if not known:
        return
    planned = [p for e in events for p in plan(e.id, topic.name, kind, e.data, known, team_of,
                                              notify.settings.console_url, now)]
    for _, channel in await NotificationRepository(session).queue(planned):
        metrics.QUEUED.labels(str(kind), channel).inc()
