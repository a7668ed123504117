import pytest

from leadflow_intake.domain.model import LeadStatus, MissingContact, advance, new_submission


def test_a_lead_needs_a_way_to_reach_its_person() -> None:
    with pytest.raises(MissingContact):
        new_submission({"name": "张三", "company_name": "示例公司"}, partner_id="p1")
    for contact in ({"mobile": "13800138000"}, {"wechat": "zhangsan_88"}, {"email": "a@b.cn"}):
        submission = new_submission(contact, partner_id="p1")
        assert submission.partner_id == "p1" and submission.lead_id != submission.submission_id


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (LeadStatus.received, LeadStatus.scored, LeadStatus.scored),
        (LeadStatus.assigned, LeadStatus.scored, LeadStatus.assigned),  # a late score does not go back
        (LeadStatus.scored, LeadStatus.converted, LeadStatus.converted),
        (LeadStatus.converted, LeadStatus.lost, LeadStatus.converted),
        (LeadStatus.assigned, LeadStatus.lost, LeadStatus.lost),
        (LeadStatus.lost, LeadStatus.assigned, LeadStatus.lost),
    ],
)
def test_status_only_moves_forward(current: LeadStatus, reported: LeadStatus, expected: LeadStatus) -> None:
    assert advance(current, reported) == expected
