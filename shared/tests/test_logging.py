import io
import json
import logging

from leadflow_shared.logging import configure_logging, get_logger, mask_text


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
