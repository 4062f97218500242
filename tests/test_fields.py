"""Each input field's declared limits (rules/fields.py) fit the database column the field lands in."""

from __future__ import annotations

import pytest

from points import tables as t
from rules import fields as F

pytestmark = pytest.mark.pure  # no server, no database: the embedded leg runs it

COLUMNS = [
    (F.PERSON_NAME, t.Member.name), (F.PLATFORM_RIDER_ID, t.Member.platform_rider_id),
    (F.BUILDING, t.Member.building), (F.COMMUNITY_CODE, t.Community.code), (F.TOKEN_NAME, t.ApiToken.name),
    (F.ITEM_ID, t.Submission.item_id), (F.ITEM_ID, t.Submission.claimed_item_id), (F.ADDRESS, t.Submission.address),
    (F.GRID, t.Grid.code), (F.REWARD_CODE, t.Reward.code), (F.REWARD_NAME, t.Reward.name_zh),
    (F.REWARD_NAME, t.Reward.name_en), (F.REWARD_IMAGE, t.Reward.image), (F.STOCK_REASON, t.StockMovement.reason),
    (F.NOTE, t.Member.status_reason), (F.TASK_TITLE, t.Task.title), (F.ADDRESS, t.Task.place),
    (F.ITEM_ID, t.Task.item_id), (F.CHECKPOINT_NAME, t.Checkpoint.name), (F.CHECKPOINT_WHAT, t.Checkpoint.what),
    (F.GRID_CODE, t.Grid.code), (F.GRID_NAME, t.Grid.name), (F.FORWARD_URL, t.Forwarding.url),
    (F.FORWARD_SECRET, t.Forwarding.secret), (F.SERVICE_CODE, t.Forwarding.service_code),
    (F.SERVICE_CODE, t.Forwarding.jurisdiction), (F.SERVICE_CODE, t.OutboxEvent.remote_id),
]
ID_PREFIX = len(str(F.INT32_MAX)) + 1  # an Idempotency-Key is stored as "{member id}:{key}"


@pytest.mark.parametrize("spec, column", COLUMNS, ids=[f"{c._meta.table._meta.tablename}.{c._meta.name}"
                                                      for _, c in COLUMNS])
def test_a_declared_text_fits_its_column(spec, column):
    length = getattr(column, "length", None)
    assert length is None or spec.max_length <= length, f"{column._meta.name}: {spec.max_length} > {length}"


def test_stored_keys_fit_their_columns():
    for column in (t.Submission.idempotency_key, t.Redemption.idempotency_key):
        assert F.IDEMPOTENCY_KEY.max_length + ID_PREFIX <= column.length


def test_numbers_fit_postgresql_integer():
    for spec in (F.ID, F.PRICE, F.STOCK, F.QUANTITY, F.LIMIT_COUNT, F.UNITS, F.RADIUS_M, F.SLOTS, F.CHECKPOINTS):
        assert -(2**31) <= spec.low <= spec.high <= F.INT32_MAX


@pytest.mark.parametrize("value, code", [("a\x00b", "invalid_text"), ("a\x01b", "invalid_text"),
                                         ("x" * 101, "too_long"), ("line\nbreak", "invalid_text"),
                                         ("a\ufffeb", "invalid_text"), ("a\uffffb", "invalid_text"),
                                         ("a\x85b", "invalid_text"), ("a\ud800b", "invalid_text"),
                                         ("a\U0001fffeb", "invalid_text"), ("a\ufdd0b", "invalid_text")])
def test_one_line_texts_refuse_what_they_cannot_hold(value, code):
    assert F.PERSON_NAME.problem(value)[0] == code


def test_multi_line_texts_keep_line_breaks_and_tabs():
    assert F.NOTE.problem("第一行\n第二行\t完") is None
    assert F.NOTE.problem("a\x00b")[0] == "invalid_text"
