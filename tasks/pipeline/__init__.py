"""Delivery of signals and the Celery jobs: how a 👍 clicked in chat becomes a stored rating.

Holds the Celery app (``app``) and its tasks (``jobs``: thin wrappers with late acks, retries
and dead letters around plain functions), the bot's ``sink`` (publish, or keep in the
``outbox`` when the broker is down), storing signals (``ingest`` one by one, ``bulk`` for a
backlog), ``deadletter``, the worker ``consumer`` that dead-letters undecodable messages, the
in-process ``dispatch`` for local use, the ``retrain_trigger`` and the worker's commands
(``cli``). May import ``tasks.data``, ``tasks.registry``, ``tasks.training``, ``bot.store``,
``bot.ops`` (the worker's health server) and ``chains``; never the engine or an adapter.
"""
