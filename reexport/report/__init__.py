"""Report layer: tables, plots, replication scorecard, study runner."""
