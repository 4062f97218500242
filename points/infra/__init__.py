"""Infrastructure: the database, settings, group commit, the change feed, logs, HTTP, SMS, photos, metrics."""
