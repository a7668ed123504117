"""console, wired: pages over the services' public APIs; its own schema holds only accounts and sessions.
No events in or out."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from litestar.config.csrf import CSRFConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from leadflow_console import cli as console_cli
from leadflow_console import consumers, db, http, http_manage, http_rep, oidc, pages
from leadflow_console.bootstrap import bootstrap
from leadflow_console.domain.worklist import parse_time
from leadflow_console.settings import ConsoleSettings
from leadflow_shared.logging import get_logger
from leadflow_shared.service import Service

log = get_logger(__name__)
HERE = Path(__file__).parent
CSRF_COOKIE = "lf_csrf"


def csrf_secret(settings: ConsoleSettings) -> str:
    """The same on every replica: the setting, else derived from the staff signing key."""
    if settings.console_secret:
        return settings.console_secret
    key = settings.staff_signing_key_file
    if key is not None and Path(key).exists():
        return hashlib.sha256(b"leadflow-console-csrf" + Path(key).read_bytes()).hexdigest()
    log.warning("no LEADFLOW_CONSOLE_SECRET: a random CSRF secret (forms break across replicas and restarts)")
    return secrets.token_hex(32)


def local_time(zone: ZoneInfo) -> Callable[[Any], str]:
    """An API's ISO time as the people who read it count time: `2026-12-07 10:00`."""
    def shown(value: Any) -> str:
        moment = parse_time(value)
        if moment is None:
            return str(value or "")
        if moment.tzinfo is None:
            return moment.strftime("%Y-%m-%d %H:%M")
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return shown


def app_options(settings: ConsoleSettings) -> dict[str, Any]:
    zone = ZoneInfo(settings.console_timezone)

    def filters(engine: JinjaTemplateEngine) -> None:
        engine.engine.filters["local_time"] = local_time(zone)

    return {
        "template_config": TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine,
                                          engine_callback=filters),
        "csrf_config": CSRFConfig(secret=csrf_secret(settings), cookie_name=CSRF_COOKIE, cookie_httponly=True,
                                  cookie_secure=settings.console_cookie_secure, cookie_samesite="lax",
                                  exclude=["/health", "/metrics"]),
        "route_handlers": [create_static_files_router(path="/static", directories=[HERE / "static"],
                                                      opt={"auth": "public"}, include_in_schema=False)],
    }


service = Service(
    name="console",
    http_port=8006,
    description="the pages reps and managers work in: pools, my leads, a lead's page, opportunities, and the "
                "managers' queue, distribution, flags, funnel, leaderboard and rule simulation",
    metadata=db.metadata,
    settings_class=ConsoleSettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=[http.SignInController, http.SessionController, oidc.OidcController, http_rep.RepController, http_rep.SettingsController,
                 http_manage.ManagerController],
    commands=[console_cli.account_set, console_cli.account_disable, console_cli.accounts],
    exception_handlers=pages.EXCEPTION_HANDLERS,
    uses_kafka=False,
    app_options=app_options,
)
main = service.serve
cli = service.cli()
