"""A person's match keys: one spelling, whoever builds them."""

import pytest
from leadflow_shared.contacts import contact_keys


@pytest.mark.parametrize(("contact", "key"), [
    ({"mobile": "138 0013 8000"}, "mobile:+8613800138000"),
    ({"mobile": "+86 138-0013-8000"}, "mobile:+8613800138000"),
    ({"wechat": " ZhangWei_88 "}, "wechat:zhangwei_88"),
    ({"email": "Z.Wei@Example.CN"}, "email:z.wei@example.cn"),
])
def test_each_kind_of_contact_has_its_key(contact: dict[str, str], key: str) -> None:
    assert contact_keys(**contact) == (key,)


@pytest.mark.parametrize("wechat", ["13800138000", "138 0013 8000", "+8613800138000"])
def test_a_wechat_id_that_is_a_phone_number_is_the_mobile(wechat: str) -> None:
    assert contact_keys(wechat=wechat) == contact_keys(mobile="13800138000") == ("mobile:+8613800138000",)
    assert contact_keys(wechat="+8613800138000", normalized=True) == ("mobile:+8613800138000",)


def test_invalid_contacts_give_no_key() -> None:
    assert contact_keys("12345", "1", "not-an-address") == ()
    assert contact_keys("12345", "zhangwei_88", None) == ("wechat:zhangwei_88",)
    assert contact_keys(mobiles=["12345", "13800138000"], emails=["a@", "a@b.cn"]) == (
        "mobile:+8613800138000", "email:a@b.cn")


def test_mobiles_come_first_and_each_key_once() -> None:
    keys = contact_keys("13800138000", "13900139000", "z@example.cn", mobiles=["+8613800138000"],
                        emails=["Z@example.cn"])
    assert keys == ("mobile:+8613800138000", "mobile:+8613900139000", "email:z@example.cn")
    assert contact_keys("13800138000", "13800138000") == ("mobile:+8613800138000",)
    assert contact_keys(None, "zhangwei_88", "z@example.cn", mobiles=["13800138000"]) == (
        "mobile:+8613800138000", "wechat:zhangwei_88", "email:z@example.cn")


def test_normal_forms_give_the_keys_of_their_raw_writings() -> None:
    raw = contact_keys("138 0013 8000", "ZhangWei_88", "Z@Example.cn")
    assert contact_keys("+8613800138000", "zhangwei_88", "z@example.cn", normalized=True) == raw
    assert contact_keys(None, None, None) == ()
