"""notify, wired: deadline reminders, recycles, duplicate warnings, assignments and collusion flags in (Kafka);
messages out through DingTalk, WeCom, Lark/Feishu robots and e-mail (apprise), by each person's choice; recipients
and the record of messages over HTTP."""

from leadflow_notify import consumers, db, http
from leadflow_notify.bootstrap import bootstrap
from leadflow_notify.settings import NotifySettings
from leadflow_shared.service import Service

service = Service(
    name="notify",
    http_port=8007,
    description="tells reps and managers of deadlines, recycles, duplicates, new leads and collusion flags through "
                "DingTalk, WeCom, Lark and e-mail, each person's choice, with quiet hours and retries",
    metadata=db.metadata,
    settings_class=NotifySettings,
    bootstrap=bootstrap,
    subscriptions=consumers.subscriptions,
    controllers=http.CONTROLLERS,
    exception_handlers=http.EXCEPTION_HANDLERS,
)
main = service.serve
cli = service.cli()
