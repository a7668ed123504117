from leadflow_intake.domain.lead import CleanLead, clean, fill_blanks
from leadflow_intake.domain.risk import RecentTraffic, RiskPolicy, assess


def test_a_lead_nobody_can_reach_is_refused() -> None:
    errors = clean({"name": "张三", "company_name": "示例公司"})
    assert isinstance(errors, list) and [e.code for e in errors] == ["missing_contact"]


def test_every_bad_field_is_reported_at_once() -> None:
    errors = clean({"mobile": "123", "email": "nope", "company_credit_code": "X", "client_ip": "999.1.1.1"})
    assert isinstance(errors, list)
    assert {(e.field, e.code) for e in errors} == {
        ("mobile", "invalid_phone"), ("email", "invalid_email"), ("company_credit_code", "invalid_credit_code"),
        ("client_ip", "invalid_ip")}


def test_contacts_become_match_keys() -> None:
    lead = clean({"mobile": "138 0013 8000", "wechat": "ZhangWei_88", "email": "Z@Example.cn"})
    assert isinstance(lead, CleanLead)
    assert lead.contact_keys() == ("mobile:+8613800138000", "wechat:zhangwei_88", "email:z@example.cn")
    assert lead.snapshot()["mobile"] == "+8613800138000"


def test_merging_fills_only_blanks_and_keeps_what_the_lead_has() -> None:
    merged = fill_blanks({"name": "张伟", "email": None, "custom": {"a": 1}},
                         {"name": "Zhang Wei", "email": "z@example.cn", "custom": {"a": 2, "b": 3}})
    assert merged == {"name": "张伟", "email": "z@example.cn", "custom": {"a": 1, "b": 3}}


def test_risk_reasons() -> None:
    lead = clean({"email": "x@mailinator.com", "client_ip": "203.0.113.9", "device_id": "d1"})
    assert isinstance(lead, CleanLead)
    policy = RiskPolicy(max_per_ip=3, max_per_device=2, disposable_domains=frozenset({"mailinator.com"}))
    assert assess(lead, policy, RecentTraffic(by_ip=3, by_device=2), ["mobile"]) == [
        "blocklisted_mobile", "disposable_email", "ip_burst", "device_burst"]
    assert assess(lead, RiskPolicy(), RecentTraffic(), []) == []
