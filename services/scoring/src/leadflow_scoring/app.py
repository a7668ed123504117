"""scoring, wired: leads.received.v1, leads.activity.v1 and opportunities.closed.v1 in; leads.scored.v1
out (through the outbox); scores, activities, rules and models over HTTP."""

from __future__ import annotations

from leadflow_scoring import consumers, db, http
from leadflow_scoring.admin import keys_app, models_app, registry_app, rescore_command, rules_app
from leadflow_scoring.bootstrap import bootstrap
from leadflow_scoring.cli import scoring_app
from leadflow_scoring.domain.rules import RulesError
from leadflow_scoring.settings import ScoringSettings
from leadflow_shared.service import Service

service = Service(
    name="scoring",
    http_port=8002,
    description="enriches, scores and qualifies leads; learns a predictive score from outcomes",
    metadata=db.metadata,
    settings_class=ScoringSettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[http.ScoreController, http.ActivityController, http.RulesController, http.ModelController],
    exception_handlers={RulesError: http.rules_problem},
    custom_plans=True,  # its statements carry batches
)
main = service.serve
cli = service.cli()
for name, app in (("rules", rules_app), ("keys", keys_app), ("models", models_app)):
    cli.add_typer(app, name=name)
cli.registered_commands += scoring_app.registered_commands  # train, predict
cli.command("rescore")(rescore_command)
registry_cli = registry_app  # `leadflow registry …`
