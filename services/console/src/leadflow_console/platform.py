"""The services' public APIs as the console calls them: always with the signed-in person's token and
language, so that every service checks who calls and answers in that person's language. Never a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from leadflow_console.domain.i18n import translate
from leadflow_console.settings import ConsoleSettings
from leadflow_shared.logging import get_logger

log = get_logger(__name__)

SERVICES = ("intake", "scoring", "assignment", "pool", "opportunity", "notify")
SERVICE_NAMES = {"intake": ("intake", "进线服务"), "scoring": ("scoring", "评分服务"),
                 "assignment": ("assignment", "分配服务"), "pool": ("pool", "公海服务"),
                 "opportunity": ("opportunity", "商机服务"), "notify": ("notify", "通知服务")}


def service_label(service: str, language: str) -> str:
    en, zh = SERVICE_NAMES.get(service, (service, service))
    return zh if language == "zh" else en


class ApiError(Exception):
    """A service refused or failed a call: `detail` is already in the person's language."""

    quiet = True  # shown to the person as a page; logged here only when the service failed

    def __init__(self, service: str, status: int, detail: str, code: str | None = None,
                 problems: list[str] | None = None) -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.service = service
        self.status = status
        self.detail = detail
        self.code = code
        self.problems = problems or []


class SignInExpired(Exception):
    """A service no longer accepts the session's token (expired or revoked): sign in again."""

    quiet = True


def _detail(response: httpx.Response) -> tuple[str, str | None, list[str]]:
    """A refusal's reason, code and listed problems, from the services' JSON error bodies."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase, None, []
    if not isinstance(body, dict):
        return str(body)[:300], None, []
    problems = []
    for problem in body.get("errors") or []:
        if isinstance(problem, dict):
            where = problem.get("path") or problem.get("field") or problem.get("key") or ""
            problems.append(f"{where}: {problem.get('message', '')}".strip(": "))
    extra = body.get("extra")
    if isinstance(extra, list):
        for item in extra[:10]:
            if isinstance(item, dict):
                problems.append(f"{item.get('key', '')}: {item.get('message', '')}".strip(": "))
    return str(body.get("detail") or response.reason_phrase), body.get("code"), problems


class Platform:
    """One HTTP client for every service (connections kept), a Component of the console's container."""

    name = "platform"

    def __init__(self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.urls = {name: getattr(settings, f"console_{name}_url").rstrip("/") for name in SERVICES}
        self.timeout = settings.console_api_timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport,
                                             limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        return self._client

    async def start(self) -> None:
        _ = self.client

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self) -> None:
        """The console is ready whether or not each service is: a page says which one is away."""

    def caller(self, token: str, language: str) -> Caller:
        return Caller(self, token, language)

    async def request(self, method: str, service: str, path: str, *, token: str, language: str,
                      params: Any = None, json: Any = None, raw: bool = False) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN" if language == "zh" else "en"}
        try:
            response = await self.client.request(method, self.urls[service] + path, params=params, json=json,
                                                 headers=headers)
        except httpx.HTTPError as exc:
            log.warning("service not reachable", service=service, path=path, error=repr(exc))
            raise ApiError(service, 503, translate("error.unavailable", language,
                                                   service=service_label(service, language))) from None
        if response.status_code == 401:
            raise SignInExpired(service)
        if response.status_code >= 400:
            detail, code, problems = _detail(response)
            if response.status_code >= 500:
                log.warning("service failed a call", service=service, path=path, status=response.status_code)
                detail = translate("error.unavailable", language, service=service_label(service, language))
            raise ApiError(service, response.status_code, detail, code, problems)
        if raw:
            return response
        return response.json() if response.content else None


@dataclass(frozen=True)
class Caller:
    """The platform as one signed-in person calls it."""

    platform: Platform
    token: str
    language: str

    async def get(self, service: str, path: str, params: Any = None) -> Any:
        return await self.platform.request("GET", service, path, token=self.token, language=self.language,
                                           params=params)

    async def post(self, service: str, path: str, json: Any = None) -> Any:
        return await self.platform.request("POST", service, path, token=self.token, language=self.language,
                                           json=json if json is not None else {})

    async def put(self, service: str, path: str, json: Any) -> Any:
        return await self.platform.request("PUT", service, path, token=self.token, language=self.language,
                                           json=json)

    async def text(self, service: str, path: str, params: Any = None) -> str:
        response = await self.platform.request("GET", service, path, token=self.token, language=self.language,
                                               params=params, raw=True)
        return str(response.text)
