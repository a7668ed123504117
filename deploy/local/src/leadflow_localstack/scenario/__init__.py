"""`leadflow demo`'s scenario: a sales team's day on the local platform, through the services' public APIs.

leads (who is posted, by whom, with which duplicates and behaviour) → setup (platform, documents, keys,
tokens) → submit (leads and activities) → reps (their day) → watch (recycles, collusion) → report.
"""

from leadflow_localstack.scenario.run import run

__all__ = ["run"]
