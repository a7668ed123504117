import io
import json
import logging

from leadflow_shared.logging import RepeatThrottle, configure_logging, get_logger, mask_text


def test_emails_keep_their_first_letter_and_domain() -> None:
    assert mask_text("write to Zhang.Wei@Example.cn now") == "write to Z***@Example.cn now"


def test_mobiles_keep_prefix_and_last_four_digits() -> None:
    assert mask_text("+8613800138000") == "+861******8000"
    assert mask_text("call 138-0013-8000") == "call 138****8000"


def test_short_numbers_and_ids_are_left_alone() -> None:
    assert mask_text("order 12345, lead 4f1c-77") == "order 12345, lead 4f1c-77"


def test_every_log_line_is_json_with_contacts_masked(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("INFO", json=True, service="intake")
    get_logger("t").info("lead received", mobile="13800138000", contact={"email": "li.lei@example.cn"})
    logging.getLogger("stdlib").warning("from %s", "han@example.cn")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["mobile"] == "138****8000" and lines[0]["contact"]["email"] == "l***@example.cn"
    assert lines[0]["service"] == "intake" and lines[0]["level"] == "info"
    assert lines[1]["event"] == "from h***@example.cn"
    assert "13800138000" not in io.StringIO(str(lines)).getvalue()


def test_an_outage_is_logged_once_then_at_a_bounded_rate(capsys) -> None:  # type: ignore[no-untyped-def]
    """A broker down for minutes made aiokafka log ~285,000 lines; now the first, then one per interval."""
    configure_logging("INFO", json=True, service="pool")
    handler = logging.getLogger().handlers[0]
    clock = [0.0]
    throttle = RepeatThrottle(interval_s=30.0, clock=lambda: clock[0])
    handler.filters[:] = [throttle]
    conn = logging.getLogger("aiokafka.conn")
    for second in range(600):  # ten minutes, 50 failed reconnects a second
        clock[0] = float(second)
        for _ in range(50):
            conn.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
        get_logger("leadflow.outbox").warning("relay round failed", error="KafkaConnectionError")
    logging.getLogger("leadflow.outbox").info("broker back after %s s", 600)
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    aiokafka = [line for line in lines if line["logger"] == "aiokafka.conn" and line["level"] == "error"]
    ours = [line for line in lines if line["event"] == "relay round failed"]
    assert len(aiokafka) == len(ours) == 20  # once, then every 30 s
    assert aiokafka[0]["event"] == "Unable connect to node with id 1: Connect call failed"
    assert "1499 more like this in the last 30s were not logged" in aiokafka[1]["event"]
    assert ours[1]["repeated"] == 29
    assert lines[-1]["event"] == "broker back after 600 s"  # information is never held back
