"""The points ledger: double-entry transfers, expiry lots, statements and honours."""
