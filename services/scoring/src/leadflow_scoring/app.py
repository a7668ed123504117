"""scoring, wired: leads.received.v1, leads.activity.v1 and opportunities.closed.v1 in; leads.scored.v1
out (through the outbox); scores, activities, rules and models over HTTP."""

from __future__ import annotations

from leadflow_scoring import consumers, db, http
from leadflow_scoring.admin import keys_app, models_app, registry_app, rescore_command, rules_app
from leadflow_scoring.cli import scoring_app
from leadflow_scoring.domain.rules import RulesError
from leadflow_scoring.domain.scorer import Scorer
from leadflow_scoring.handlers import ScoringHandlers
from leadflow_scoring.jobs import ActiveVersionWatcher, RescoreJob, WaitingActivityExpiry
from leadflow_scoring.registry import TableRegistry
from leadflow_scoring.settings import ScoringSettings
from leadflow_shared.auth import KeyCache
from leadflow_shared.errors import TransientError
from leadflow_shared.service import Runtime, Service


def setup(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, ScoringSettings)
    # The scorer (rules + model) is put in runtime.state by the watcher; handlers read it per batch.
    runtime.state["handlers"] = ScoringHandlers(lambda: _scorer(runtime), TableRegistry())
    runtime.state["key_cache"] = KeyCache(settings.scoring_auth_cache_s)


def _scorer(runtime: Runtime) -> Scorer:
    scorer = runtime.state.get("scorer")
    if scorer is None:  # events can come before the rules are loaded: wait, never dead-letter
        raise TransientError("scoring rules not loaded yet")
    return scorer  # type: ignore[no-any-return]


service = Service(
    name="scoring",
    http_port=8002,
    description="enriches, scores and qualifies leads; learns a predictive score from outcomes",
    metadata=db.metadata,
    controllers=[http.ScoreController, http.ActivityController, http.RulesController, http.ModelController],
    subscriptions=consumers.subscriptions,
    components=[ActiveVersionWatcher, RescoreJob, WaitingActivityExpiry],
    settings_class=ScoringSettings,
    setup=setup,
    exception_handlers={RulesError: http.rules_problem},
)
main = service.serve
cli = service.cli()
for name, app in (("rules", rules_app), ("keys", keys_app), ("models", models_app)):
    cli.add_typer(app, name=name)
cli.registered_commands += scoring_app.registered_commands  # train, predict
cli.command("rescore")(rescore_command)
registry_cli = registry_app  # `leadflow registry …`
