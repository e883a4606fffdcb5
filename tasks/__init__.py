"""The background side: everything that happens after a person clicked, on a schedule, or by an
operator's command. Each subpackage has one job and says what it may import:

* ``tasks.pipeline``: the Celery app and its jobs, the bot's signal sink, the outbox, dead
  letters, storing ratings and corrections, the retraining trigger, the worker's commands;
* ``tasks.data``: preference pairs, dataset exports, retention, daily rollups;
* ``tasks.registry``: model versions, the evaluation gate, the traffic split, measurement and
  the promotion policy;
* ``tasks.training``: retraining backends (TRL, OpenAI, Gemini);
* ``tasks.evaluation``: the offline evaluation harness.

Nothing here imports the interview engine, a chat adapter or the composition root; the shared
types live below both sides (``bot.store``, ``bot.config``, ``chains``). ``celery -A tasks`` finds
the app in ``tasks/celery.py``. The layering is checked by ``tests/test_layers.py``.
"""
