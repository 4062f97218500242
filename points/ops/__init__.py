"""Operations: background jobs and their dispatch, the sweep, backup, demo data, staff figures, reconciliation."""
