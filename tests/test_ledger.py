"""Ledger invariants, enforced by the code and, behind it, by the database itself."""

from __future__ import annotations

import pytest

from conftest import as_member, near, python, run
from points.errors import InsufficientPoints, TransferMismatch
from points.infra import db
from points.ledger import transfers as ledger
from points.ledger.transfers import (
    ISSUANCE,
    SPENDABLE,
    TransferSpec,
    community_account_key,
    member_account_key,
)
from points.tables import Transfer


def accounts(community, member):
    keys = [member_account_key(SPENDABLE, member.id), community_account_key(ISSUANCE, community.id)]
    found = run(ledger.accounts_by_key(keys))
    return found[keys[0]], found[keys[1]]


def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(api, community, jpeg):
    rider = community.riders[0]
    report = api.submit(rider, "order.illegal_ads", [jpeg], **near()).json()  # auto-accepted: 5 points
    api.wait_awarded(rider, report["id"])
    spendable, issuance = accounts(community, rider)
    before = run(Transfer.count())
    with pytest.raises(InsufficientPoints):
        run(db.write(lambda: ledger.post([TransferSpec("test:overdraw", spendable, issuance, 6, "test", "", "")])))
    assert run(Transfer.count()) == before
    assert api.balance(rider)["spendable"] == 5
    written = run(db.write(lambda: ledger.post([TransferSpec("test:spend", spendable, issuance, 5, "test", "t", "")])))
    assert written == {"test:spend"}
    assert api.balance(rider)["spendable"] == 0


def test_a_key_replayed_with_other_fields_is_refused(community):
    spendable, issuance = accounts(community, community.residents[0])
    spec = TransferSpec(f"test:grant:{community.id}", issuance, spendable, 3, "test", "grant", "")
    assert run(db.write(lambda: ledger.post([spec]))) == {spec.key}
    assert run(db.write(lambda: ledger.post([spec]))) == set()
    with pytest.raises(TransferMismatch):
        run(db.write(lambda: ledger.post([TransferSpec(spec.key, issuance, spendable, 4, "test", "grant", "")])))
    assert run(ledger.balances(as_member(community.residents[0].id)))["spendable"] == 3


@pytest.mark.parametrize("statement", [
    "UPDATE transfer SET amount = amount + 1",
    "DELETE FROM transfer",
    "UPDATE audit_event SET action = 'nothing'",
    "DELETE FROM audit_event",
])
def test_ledger_and_audit_rows_cannot_be_edited(api, community, jpeg, statement):
    report = api.submit(community.riders[0], "order.illegal_ads", [jpeg], **near()).json()
    api.wait_awarded(community.riders[0], report["id"])
    other = api.submit(community.riders[1], "order.garbage_pileup", [jpeg], **near(metres_north=500)).json()
    assert api.reject(community.staff, other["id"], "unclear").status_code == 200  # an audit row to protect
    with pytest.raises(Exception, match="append-only"):
        run(db.sql(statement))


def test_the_database_refuses_a_negative_member_balance(community):
    spendable, _ = accounts(community, community.riders[1])
    with pytest.raises(Exception, match="negative|account_balance_not_negative"):
        run(db.sql("UPDATE account SET balance = -1 WHERE id = {}", spendable))


def test_reconciliation_finds_a_tampered_balance(community):
    spendable, _ = accounts(community, community.residents[1])
    run(db.sql("UPDATE account SET balance = balance + 7 WHERE id = {}", spendable))
    try:
        result = python("-m", "points", "reconcile")
        assert result.returncode == 1
        assert f"spendable:member:{community.residents[1].id}: balance 7 but transfers say 0" in result.stdout
    finally:
        run(db.sql("UPDATE account SET balance = balance - 7 WHERE id = {}", spendable))
    assert python("-m", "points", "reconcile").returncode == 0


@pytest.mark.parametrize("amount, debit_same", [(0, False), (-5, False), (5, True)])
def test_the_database_refuses_a_transfer_of_nothing_or_to_itself(community, amount, debit_same):
    spendable, issuance = accounts(community, community.riders[0])
    with pytest.raises(Exception, match="positive|amount|two accounts|two_accounts"):
        run(db.sql("INSERT INTO transfer (idempotency_key, debit_account, credit_account, amount, code, reason, ref, "
                   "rules_version, created_at) VALUES ({}, {}, {}, {}, 'test', 'raw', '', '', CURRENT_TIMESTAMP)",
                   f"test:raw:{amount}:{debit_same}:{community.id}", issuance,
                   issuance if debit_same else spendable, amount))
