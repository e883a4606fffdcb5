"""The background side: ingestion of ratings and corrections, preference data, retraining, stats."""
