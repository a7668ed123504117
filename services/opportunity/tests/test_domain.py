from leadflow_opportunity.domain.model import ConversionStatus, status_for_owner


def test_an_owned_lead_is_open_and_an_unowned_one_waits() -> None:
    assert status_for_owner("rep-a") == ConversionStatus.open
    assert status_for_owner(None) == ConversionStatus.unowned
