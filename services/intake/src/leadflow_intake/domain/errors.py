"""Why a lead was refused, in the partner's language (Accept-Language: zh or en)."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow_shared.language import preferred_language

MESSAGES: dict[str, tuple[str, str]] = {
    "missing_contact": ("a lead needs a valid mobile, WeChat id or e-mail", "线索至少需要一个有效的手机号、微信号或邮箱"),
    "invalid_phone": ("not a valid phone number", "手机号码无效"),
    "invalid_email": ("not a valid e-mail address", "邮箱地址无效"),
    "invalid_wechat": ("a WeChat id is 6–20 letters, digits, _ or -, starting with a letter",
                       "微信号应为6–20位字母、数字、下划线或减号，并以字母开头"),
    "invalid_credit_code": ("not a valid unified social credit code", "统一社会信用代码无效"),
    "invalid_ip": ("not an IP address", "IP 地址无效"),
    "invalid_value": ("invalid value", "字段值无效"),
    "missing": ("this field is required", "缺少必填字段"),
    "unknown_field": ("unknown field (put your own attributes under `custom`)", "未知字段（自定义属性请放在 custom 中）"),
    "too_long": ("too long", "内容过长"),
    "too_many_leads": ("a batch takes at most 1,000 leads", "每批最多 1000 条线索"),
    "idempotency_key_reused": ("this Idempotency-Key was used with a different request",
                               "该 Idempotency-Key 已用于另一个不同的请求"),
    "unreadable_file": ("the file is not a readable CSV or XLSX", "文件不是可读取的 CSV 或 XLSX"),
}


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    detail: str | None = None

    def message(self, language: str = "en") -> str:
        en, zh = MESSAGES.get(self.code, MESSAGES["invalid_value"])
        text = zh if language == "zh" else en
        return f"{text}: {self.detail}" if self.detail and language != "zh" else text

    def as_dict(self, language: str = "en") -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message(language)}


__all__ = ["MESSAGES", "FieldError", "preferred_language"]
