import pytest

from leadflow_shared.settings import LeadflowSettings


def test_settings_come_from_leadflow_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_KAFKA_BOOTSTRAP", "kafka-a:9092,kafka-b:9092")
    monkeypatch.setenv("LEADFLOW_CONSUMER_MAX_ATTEMPTS", "5")
    settings = LeadflowSettings()
    assert settings.kafka_bootstrap == "kafka-a:9092,kafka-b:9092"
    assert settings.consumer_max_attempts == 5


def test_nonsense_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_CONSUMER_MAX_ATTEMPTS", "0")
    with pytest.raises(ValueError, match="consumer_max_attempts"):
        LeadflowSettings()
