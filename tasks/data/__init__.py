"""Data made from the stored signals: preference pairs (``preferences``, with the grading prompt
``prompting`` rebuilds), dataset exports (``export``, written through ``outputs``), retention of
old transcripts (``retention`` and its command), daily rollups and named pipeline ``state``.

Plain functions over the database: may import ``bot.store``, ``bot.config`` and ``chains``
(schemas, redaction); never ``tasks.pipeline`` (the jobs call these, not the other way), the
engine or an adapter.
"""
