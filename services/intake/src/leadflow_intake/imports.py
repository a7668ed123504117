"""Bulk import (批量导入): a CSV or XLSX file, processed in the background, resumable.

The file is kept in Postgres with the import; rows are processed in chunks, and each chunk's leads
and the import's progress commit in one transaction, so a restart resumes exactly where it stopped.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

from leadflow_intake import views
from leadflow_intake.db import ImportRepository
from leadflow_intake.domain.errors import FieldError
from leadflow_intake.domain.lead import CleanLead
from leadflow_intake.handlers import SubmissionPipeline
from leadflow_intake.schemas import validate_lead
from leadflow_shared.db import Database
from leadflow_shared.logging import get_logger
from leadflow_shared.service import BackgroundComponent

log = get_logger(__name__)

# Column headers partners use, in Chinese and English, → lead fields.
HEADER_ALIASES: dict[str, str] = {
    **{h: "name" for h in ("name", "姓名", "联系人", "客户姓名", "名字")},
    **{h: "mobile" for h in ("mobile", "phone", "手机", "手机号", "手机号码", "电话", "联系电话", "联系方式")},
    **{h: "wechat" for h in ("wechat", "微信", "微信号")},
    **{h: "email" for h in ("email", "e-mail", "邮箱", "电子邮箱", "邮件")},
    **{h: "company_name" for h in ("company", "company_name", "公司", "公司名称", "企业名称", "单位", "单位名称")},
    **{h: "company_credit_code" for h in ("company_credit_code", "credit_code", "统一社会信用代码", "信用代码")},
    **{h: "title" for h in ("title", "职位", "职务", "岗位")},
    **{h: "province" for h in ("province", "省份", "省")},
    **{h: "city" for h in ("city", "城市", "市")},
    **{h: "industry" for h in ("industry", "行业", "所属行业")},
    **{h: "source" for h in ("source", "来源", "线索来源", "渠道")},
    **{h: "campaign" for h in ("campaign", "活动", "市场活动")},
    **{h: "referrer" for h in ("referrer", "推荐人", "介绍人")},
    **{h: "product_interest" for h in ("product_interest", "意向产品", "感兴趣的产品")},
}


class UnreadableFile(ValueError):
    pass


def read_rows(filename: str, content: bytes) -> Iterator[dict[str, str]]:
    """Rows as {header: text}; CSV in UTF-8 (with or without BOM) or GB18030, or the first XLSX sheet."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or content[:2] == b"PK":
        yield from _xlsx_rows(content)
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile("neither UTF-8 nor GB18030 text")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise UnreadableFile("no header row")
    for row in reader:
        yield {k.strip(): (v or "").strip() for k, v in row.items() if k}


def _xlsx_rows(content: bytes) -> Iterator[dict[str, str]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:
        raise UnreadableFile(f"not an XLSX workbook ({exc.__class__.__name__})") from exc
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, [])]
    if not any(header):
        raise UnreadableFile("no header row")
    for values in rows:
        if values is None or all(v is None for v in values):
            continue
        yield {h: _cell(v) for h, v in zip(header, values) if h}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 13800138000 stored as a number in Excel
    return str(value).strip()


def count_rows(filename: str, content: bytes) -> int:
    return sum(1 for _ in read_rows(filename, content))


def map_row(row: dict[str, str], mapping: dict[str, str]) -> dict[str, Any]:
    """A file row → lead fields, by the given mapping first, then the known headers; the rest → custom."""
    lead: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for header, value in row.items():
        if value == "":
            continue
        if header == "__language__":
            continue
        target = mapping.get(header) or HEADER_ALIASES.get(header.strip().lower()) or HEADER_ALIASES.get(header.strip())
        if target:
            lead[target] = value
        else:
            custom[header] = value
    if custom:
        lead["custom"] = custom
    return lead


async def enqueue(db: Database, partner_id: str, filename: str, content: bytes, mapping: dict[str, str],
                  total: int) -> uuid.UUID:
    async with db.uow() as uow:
        import_id = await ImportRepository(uow.session).add(partner_id, filename, content, mapping, total)
        await uow.commit()
    return import_id


async def progress(db: Database, import_id: uuid.UUID, partner_id: str) -> dict[str, Any] | None:
    row = await views.import_progress(db, import_id, partner_id)
    if row is None:
        return None
    out = {k: (str(v) if isinstance(v, uuid.UUID) else v.isoformat() if hasattr(v, "isoformat") else v)
           for k, v in row.items()}
    out["import_id"] = out.pop("id")
    out["percent"] = round(100 * row["processed"] / row["total"], 1) if row["total"] else 100.0
    out["rejected_report_url"] = f"/v1/imports/{import_id}/rejected.csv"
    return out


async def rejected_csv(db: Database, import_id: uuid.UUID, partner_id: str) -> bytes | None:
    rows = await views.rejected_rows(db, import_id, partner_id)
    if rows is None:
        return None
    columns: list[str] = []  # the file's own column order (data is kept as [header, value] pairs)
    for rejected in rows:
        columns += [c for c, _ in rejected["data"] if c not in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "errors", *columns])
    for rejected in rows:
        errors = "; ".join(f"{e['field']}: {e['message']}" for e in rejected["errors"])
        data = dict(rejected["data"])
        writer.writerow([rejected["row"], errors, *[data.get(c, "") for c in columns]])
    return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens UTF-8 Chinese correctly


class ImportWorker(BackgroundComponent):
    """Runs queued imports, one chunk per transaction; picks up unfinished ones after a restart."""

    name = "imports"

    def __init__(self, db: Database, pipeline: SubmissionPipeline, *, chunk: int) -> None:
        self.db = db
        self.pipeline = pipeline
        self.chunk = chunk
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """An import was queued: look now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            try:
                if not await self.run_next():
                    self._wakeup.clear()
                    try:
                        await asyncio.wait_for(self._wakeup.wait(), 2.0)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Postgres away: try again shortly
                log.warning("import round failed", error=repr(exc))
                await asyncio.sleep(2.0)

    async def run_next(self) -> bool:
        """Process one chunk of the oldest unfinished import; False when there is none."""
        async with self.db.uow() as uow:
            repo = ImportRepository(uow.session)
            job = await repo.next_unfinished()
            if job is None:
                return False
            try:
                rows = list(read_rows(job["filename"], job["content"]))
            except UnreadableFile as exc:
                await repo.fail(job["id"], str(exc))
                await uow.commit()
                return True
            start = job["processed"]
            chunk = rows[start:start + self.chunk]
            checked = [(start + n + 2, row, validate_lead(map_row(row, job["mapping"]))) for n, row in enumerate(chunk)]
            valid: list[CleanLead] = [lead for _, _, lead in checked if not isinstance(lead, list)]
            accepted = await self.pipeline.submit(uow, valid, partner_id=job["partner_id"], import_id=job["id"])
            language = job["mapping"].get("__language__", "en")
            rejected = [{"row": line, "data": list(row.items()), "errors": [e.as_dict(language) for e in lead]}
                        for line, row, lead in checked if isinstance(lead, list)]
            await repo.record_chunk(job["id"], processed=start + len(chunk), total=len(rows),
                                    outcomes=[a.outcome for a in accepted],
                                    rejected_rows=job["rejected_rows"] + rejected, new_rejected=len(rejected),
                                    done=start + len(chunk) >= len(rows))
            await uow.commit()
        return True


__all__ = ["FieldError", "ImportWorker", "UnreadableFile", "count_rows", "enqueue", "map_row", "progress",
           "read_rows", "rejected_csv"]
