"""notify's settings (LEADFLOW_* variables): where each robot's webhooks are, the SMTP relay, the console links
point to, and how deliveries are retried."""

from typing import Literal

from pydantic import Field, field_validator

from leadflow_shared.settings import LeadflowSettings


class NotifySettings(LeadflowSettings):
    console_url: str = Field("http://127.0.0.1:8006",
                             description="The console's address as people open it: messages link to "
                                         "`<console_url>/leads/<lead id>`.")
    # Each robot's endpoint is a setting: private deployments route through their own gateways.
    notify_dingtalk_url: str = Field("https://oapi.dingtalk.com/robot/send",
                                     description="DingTalk custom robots' send endpoint (`?access_token=` added).")
    notify_wecom_url: str = Field("https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                                  description="WeCom (企业微信) group robots' send endpoint (`?key=` is added).")
    notify_lark_url: str = Field("https://open.larksuite.com/open-apis/bot/v2/hook/",
                                 description="Lark custom bots' webhook base (the hook id is appended).")
    notify_feishu_url: str = Field("https://open.feishu.cn/open-apis/bot/v2/hook/",
                                   description="Feishu (飞书) custom bots' webhook base (the hook id is appended).")
    notify_verify_certificates: bool = Field(True, description="Check the TLS certificates of robots and SMTP.")
    notify_connect_timeout_s: float = Field(4.0, gt=0, description="Connecting to a robot or the SMTP relay.")
    notify_read_timeout_s: float = Field(10.0, gt=0, description="Waiting for a robot's answer.")

    notify_smtp_host: str | None = Field(None, description="SMTP relay for e-mail; unset: no e-mail channel.")
    notify_smtp_port: int | None = Field(None, ge=1, le=65535,
                                         description="Default: 25, 587 (starttls) or 465 (ssl).")
    notify_smtp_user: str | None = Field(None, description="SMTP login, if the relay wants one.")
    notify_smtp_password: str | None = Field(None, description="SMTP password (keep it in a Secret).")
    notify_smtp_from: str = Field("leadflow@localhost", description="The sender address of e-mails.")
    notify_smtp_security: Literal["none", "starttls", "ssl"] = Field("starttls",
                                                                     description="none | starttls | ssl.")

    notify_max_attempts: int = Field(6, ge=1, description="Tries of a message before it is recorded failed.")
    notify_backoff_s: float = Field(2.0, gt=0, description="Wait after the first failed try; doubles each try.")
    notify_backoff_max_s: float = Field(600.0, gt=0, description="The longest wait between two tries.")
    notify_poll_interval_s: float = Field(1.0, gt=0, description="How often the dispatcher looks for due messages.")
    notify_batch_size: int = Field(20, ge=1, description="Messages a dispatcher round claims (and sends at once).")
    notify_send_concurrency: int = Field(10, ge=1,
                                         description="Sends at once per process (threads: apprise blocks).")
    notify_lease_s: float = Field(
        120.0, gt=0, description="A claimed message is due again after this long if its outcome was never "
                                 "recorded (a crash mid-send): longer than a round's sends can take (batch size / "
                                 "concurrency × (connect + read timeouts)), or a slow robot's message goes twice.")

    @field_validator("notify_smtp_host", "notify_smtp_user", "notify_smtp_password", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
