"""What every service's HTTP API answers the same way: refusals in the caller's language, documents refused
whole with every problem, YAML or JSON bodies read as documents, CSV downloads Excel opens right."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from litestar import Request, Response
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from leadflow_shared.documents import DocumentError, Problem, parse_yaml
from leadflow_shared.language import preferred_language
from leadflow_shared.refusals import Refusal


def language(request: Request[Any, Any, Any]) -> str:
    return preferred_language(request.headers.get("accept-language"))


def refused(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """The answer to an exception carrying a `refusal` (and maybe the `result` that stands)."""
    r: Refusal = getattr(exc, "refusal")
    body: dict[str, Any] = {"status_code": r.status, "code": r.code, "detail": r.text(language(request))}
    if getattr(exc, "result", None) is not None:
        body["result"] = getattr(exc, "result")
    return Response(body, status_code=r.status)


def invalid_document(request: Request[Any, Any, Any], exc: DocumentError) -> Response[dict[str, Any]]:
    """A document refused whole: every problem with its path; nothing was applied."""
    detail = "整份文档被拒绝：未做任何变更" if language(request) == "zh" else "refused whole: nothing was applied"
    return Response({"status_code": 422, "detail": detail, "errors": [p.model_dump() for p in exc.problems]},
                    status_code=HTTP_422_UNPROCESSABLE_ENTITY)


async def body_document(request: Request[Any, Any, Any]) -> Any:
    """A request's body as a document: YAML (JSON is YAML too), with errors that say where."""
    body = await request.body()
    try:
        return parse_yaml(body.decode())
    except UnicodeDecodeError:
        raise DocumentError([Problem(path="", message="the body is not UTF-8 text")]) from None


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], name: str) -> Response[str]:
    """A CSV download; the BOM makes Excel read Chinese right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


__all__ = ["language", "refused", "invalid_document", "body_document", "csv_response"]
