"""console's container: what its pages need, built once per process by `bootstrap`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher

from leadflow_console.platform import Platform
from leadflow_console.settings import ConsoleSettings
from leadflow_shared.db import Database
from leadflow_shared.service import Component, Container
from leadflow_shared.staff import StaffVerifier


@dataclass
class Console(Container[ConsoleSettings]):
    """The settings and database (accounts, sessions), the services' APIs, the password hasher and the
    verifier of tokens an identity provider hands back."""

    platform: Platform
    passwords: PasswordHasher
    verifier: StaffVerifier

    def components(self) -> Sequence[Component]:
        return (self.platform,)


def bootstrap(settings: ConsoleSettings, db: Database) -> Console:
    return Console(settings, db, platform=Platform(settings), passwords=PasswordHasher(),
                   verifier=StaffVerifier(settings))
