"""Sending one message through one channel, by apprise: its DingTalk, WeCom, Lark and e-mail plugins, each
pointed at the endpoint the settings name (private deployments route through their own gateways).

Blocking (apprise posts with `requests` and sends mail with `smtplib`): the dispatcher calls `Sender.send` in a
thread. Where apprise falls short of what the robots need, a subclass makes up for it:

- DingTalk and WeCom answer a refused message with HTTP 200 and `{"errcode": <non-zero>, "errmsg": …}`, which
  apprise counts as sent; Lark (and Feishu, the same API) answers `{"code": <non-zero>, "msg": …}`. The robots
  here read the answer and count such a message failed, with its error.
- apprise quotes DingTalk's signature and `requests` quotes it again: DingTalk, which unquotes once, would
  answer `sign not match`. The signature goes quoted once here.
- apprise's Lark plugin does not sign: with a secret, the body carries `timestamp` and `sign`
  (base64 of HMAC-SHA256 keyed with "<timestamp>\\n<secret>" over nothing), as Lark's custom bots check.

A failure raises DeliveryFailed with its reason, the target's secrets blanked out of it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import requests
from apprise import AppriseAsset, NotifyFormat, NotifyType
from apprise.exception import AppriseException
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.email import NotifyEmail
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot

from leadflow_notify.domain.model import Channel, ChannelTarget
from leadflow_notify.settings import NotifySettings

SECURITY = {"none": "insecure", "starttls": "starttls", "ssl": "ssl"}  # ours → apprise's secure modes


class DeliveryFailed(Exception):
    """The channel did not take the message; `reason` says why (for the record, shown to the person)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Answered:
    """What the robot plugins share here: a JSON POST made as apprise's plugins make it (throttled, with their
    timeouts, certificate checks and User-Agent), whose answer is read, not only its status."""

    failure: str | None = None
    answer_codes: tuple[str, ...] = ()  # the answer's fields that are non-zero on a refusal

    def _post(self: Any, url: str, payload: Mapping[str, Any], params: Mapping[str, str] | None = None) -> bool:
        self.throttle()
        try:
            reply = requests.post(
                url, params=params, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                headers={"User-Agent": self.app_id, "Content-Type": "application/json; charset=utf-8"},
                verify=self.verify_certificate, timeout=self.request_timeout, allow_redirects=self.redirects)
        except requests.RequestException as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        if reply.status_code != requests.codes.ok:
            return self._failed(f"HTTP {reply.status_code}: {reply.text[:300]}")
        try:
            answer = reply.json()
        except ValueError:
            answer = None  # not JSON (a gateway's empty 200): the status is all there is to go on
        if isinstance(answer, dict):
            for field in self.answer_codes:
                if answer.get(field) not in (None, 0, "0"):
                    message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
                    return self._failed(f"{field} {answer[field]}: {message}"[:300])
        return True

    def _failed(self, reason: str) -> bool:
        self.failure = reason
        return False


class DingTalkRobot(_Answered, NotifyDingTalk):
    answer_codes = ("errcode",)

    def __init__(self, endpoint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint

    def get_signature(self) -> tuple[str, str]:
        timestamp, quoted = super().get_signature()
        return timestamp, unquote(quoted)  # `requests` quotes query parameters itself

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        payload = {"msgtype": "text", "text": {"content": f"{title}\n{body}" if title else body},
                   "at": {"atMobiles": self.targets, "isAtAll": False}}
        params = {"access_token": self.token}
        if self.secret:
            params["timestamp"], params["sign"] = self.get_signature()
        return self._post(self.endpoint, payload, params)


class WeComRobot(_Answered, NotifyWeComBot):
    answer_codes = ("errcode",)

    def __init__(self, endpoint: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = endpoint

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        # apprise's notify() has put the title into the body already (WeCom text messages have no title)
        return self._post(self.endpoint, {"msgtype": "text", "text": {"content": body}}, {"key": self.key})


class LarkRobot(_Answered, NotifyLark):
    answer_codes = ("code", "StatusCode")

    def __init__(self, endpoint: str, secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = secret
        self.webhook_url = endpoint.rstrip("/") + "/" + self.token

    def sign(self, timestamp: str) -> str:
        key = f"{timestamp}\n{self.secret}".encode()
        return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO, **kwargs: Any) -> bool:
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": f"{title}\n{body}" if title else body}}
        if self.secret:
            timestamp = str(int(time.time()))
            payload = {"timestamp": timestamp, "sign": self.sign(timestamp), **payload}
        return self._post(self.webhook_url, payload)


class _ThreadWarnings(logging.Handler):
    """apprise says why a send failed only in its log (the e-mail plugin): the warnings it logs in the thread
    that asked, kept for that thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        said = getattr(self.local, "said", None)
        if said is not None:
            said.append(record.getMessage())

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        self.local.said = said = []
        try:
            yield said
        finally:
            self.local.said = None


_WARNINGS = _ThreadWarnings()
logging.getLogger("apprise").addHandler(_WARNINGS)


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


class Sender:
    """Sends a message (title and body) to one channel target, or raises DeliveryFailed."""

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        # nothing on disk (the pods' root is read-only): apprise's persistent store kept in memory
        self.asset = AppriseAsset(app_id="leadflow", app_desc="leadflow notify", app_url=settings.console_url,
                                  storage_mode="memory")

    @property
    def available(self) -> frozenset[Channel]:
        """The channels this deployment can send through (e-mail only with an SMTP relay)."""
        return frozenset(c for c in Channel if c != Channel.email or self.settings.notify_smtp_host)

    def plugin(self, target: ChannelTarget) -> Any:
        """The apprise plugin that reaches the target."""
        s, f = self.settings, target.fields
        common: dict[str, Any] = {"asset": self.asset, "verify": s.notify_verify_certificates,
                                  "cto": s.notify_connect_timeout_s, "rto": s.notify_read_timeout_s}
        if target.channel == Channel.dingtalk:
            return DingTalkRobot(s.notify_dingtalk_url, token=f["access_token"], secret=f.get("secret"), **common)
        if target.channel == Channel.wecom:
            return WeComRobot(s.notify_wecom_url, key=f["key"], **common)
        if target.channel in (Channel.lark, Channel.feishu):
            base = s.notify_lark_url if target.channel == Channel.lark else s.notify_feishu_url
            return LarkRobot(base, token=f["token"], secret=f.get("secret"), **common)
        if target.channel == Channel.email:
            if not s.notify_smtp_host:
                raise DeliveryFailed("e-mail is not configured (LEADFLOW_NOTIFY_SMTP_HOST)")
            return NotifyEmail(smtp_host=s.notify_smtp_host, port=s.notify_smtp_port, user=s.notify_smtp_user,
                               password=s.notify_smtp_password, from_addr=s.notify_smtp_from,
                               targets=[f["address"]], secure_mode=SECURITY[s.notify_smtp_security], format="text",
                               **common)
        raise DeliveryFailed(f"unknown channel {target.channel}")

    def send(self, target: ChannelTarget, title: str, body: str) -> None:
        secrets = target.secrets()
        try:
            plugin = self.plugin(target)
            with _WARNINGS.capture() as said:
                sent = plugin.notify(body=body, title=title, body_format=NotifyFormat.TEXT)
        except DeliveryFailed:
            raise
        except AppriseException as exc:  # a target apprise refuses (validated before, but kept to be sure)
            raise DeliveryFailed(redact(f"{type(exc).__name__}: {exc}", secrets)) from exc
        if not sent:
            reason = getattr(plugin, "failure", None) or "; ".join(said) or "not sent"
            raise DeliveryFailed(redact(reason, secrets)[:1000])
