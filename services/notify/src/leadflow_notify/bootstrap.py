"""notify's container: what its handlers need, built once per process by `bootstrap`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from leadflow_notify.channels import Sender
from leadflow_notify.dispatch import Dispatcher, utcnow
from leadflow_notify.settings import NotifySettings
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container


@dataclass
class Notify(Container[NotifySettings]):
    """notify's settings and database, the sender (apprise's plugins, pointed at the configured endpoints), the
    dispatcher that sends queued messages, and the clock both read."""

    sender: Sender
    dispatcher: Dispatcher
    clock: Callable[[], datetime] = utcnow

    def components(self) -> Sequence[Component]:
        return (self.dispatcher,)


def bootstrap(settings: NotifySettings, db: Database) -> Notify:
    sender = Sender(settings)
    return Notify(settings, db, sender=sender, dispatcher=Dispatcher(settings, db, sender))
