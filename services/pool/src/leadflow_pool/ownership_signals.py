from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class FollowedUp:
    at: datetime
    inactivity_deadline: datetime
