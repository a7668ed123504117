import pytest

from leadflow_intake.domain.model import LeadStatus, advance


@pytest.mark.parametrize(
    ("current", "reported", "expected"),
    [
        (LeadStatus.received, LeadStatus.scored, LeadStatus.scored),
        (LeadStatus.assigned, LeadStatus.scored, LeadStatus.assigned),  # a late score does not go back
        (LeadStatus.scored, LeadStatus.converted, LeadStatus.converted),
        (LeadStatus.converted, LeadStatus.lost, LeadStatus.converted),
        (LeadStatus.assigned, LeadStatus.lost, LeadStatus.lost),
        (LeadStatus.lost, LeadStatus.assigned, LeadStatus.lost),
        (LeadStatus.flagged, LeadStatus.scored, LeadStatus.flagged),  # held back: nobody routes it
    ],
)
def test_status_only_moves_forward(current: LeadStatus, reported: LeadStatus, expected: LeadStatus) -> None:
    assert advance(current, reported) == expected
