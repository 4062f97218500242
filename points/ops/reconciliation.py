"""Reconciliation: every invariant the stored totals must keep, checked on one snapshot.

Safe to run on a live system: it reads one consistent snapshot, so work that
commits meanwhile cannot show up as a false mismatch.
"""

from __future__ import annotations

from points.infra.db import in_snapshot
from points.ledger import honours
from points.ledger import transfers as ledger
from points.reports import awards
from points.shop import counter


async def run() -> list[str]:
    async def checks() -> list[str]:
        return (await ledger.reconcile() + await awards.reconcile_awards() + await counter.reconcile()
                + await honours.reconcile_months())

    return await in_snapshot(checks)
