"""Phone numbers in text made public (points/privacy.py's mask_phones): every way people write Chinese mobile and
landline numbers is masked, digit for digit; numbers that are not phones are left alone. Open311's reads use it
(test_open311.py)."""

from __future__ import annotations

import pytest

from points.privacy import mask_phones

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it


@pytest.mark.parametrize(("written", "public"), [
    ("联系人13812345678", "联系人***********"),
    ("+8613912345678", "+*************"),
    ("+86 139 1234 5678", "+** *** **** ****"),
    ("0086.138.1234.5678", "****.***.****.****"),
    ("138-1234-5678", "***-****-****"),
    ("138 1234 5678", "*** **** ****"),
    ("138.1234.5678", "***.****.****"),
    ("１３８１２３４５６７８", "***********"),  # full-width digits
    ("１３８－１２３４－５６７８", "***-****-****"),
    ("电话:86-13812345678。", "电话:**-***********。"),
    ("010-62345678", "***-********"),
    ("(0755) 1234 5678", "(****) **** ****"),
    ("0755-8765432", "****-*******"),
])
def test_every_spelling_of_a_phone_is_masked(written, public):
    assert mask_phones(written) == public


@pytest.mark.parametrize("text", ["订单号 20261207123456789", "2026-12-07 10:30", "3号楼2单元 101室", "编号 0123",
                                  "通道 1.5 米宽, 面积 120.5 平方米", "2026.12.07"])
def test_numbers_that_are_not_phones_stay(text):
    assert mask_phones(text) == text
