"""Per-click ratings stored in batches: many ``mockingbird.record_rating`` messages, one transaction.

The bot publishes one message per click (``CelerySink``). Stored one by one, each message costs a
transaction and a commit (~1% of what PostgreSQL takes in bulk), and Celery's consumer spends a
few Redis round trips on each. So the worker does not run this task message by message. Its
*strategy* (what the consumer does with a received message, in the worker's main process;
installed by ``task_annotations`` in ``tasks.celery_app``) works like this:

* **Drain.** With a message of this task in hand and a pool process free, it takes up to
  ``FLUSH_EVERY - 1`` more messages of the same task from the head of the queue in ONE round
  trip (the ``DRAIN`` Lua script), recording each as unacknowledged exactly as kombu does, so
  they are redelivered like any other unacknowledged message if the worker dies. It stops at
  the first message of another task, which the ordinary consumer takes.
* **Batch.** The messages go to a pool process as one batch, stored by
  ``tasks.bulk.record_ratings`` in ONE transaction: the same rules as one rating (validation,
  poison -> dead letter with the reason, a person's latest rating wins by ``at``, forgotten
  people stay forgotten), and the batch's write-ahead outbox rows are deleted in that same
  transaction.
* **Adaptive size.** Batches go out at once while a pool process is free (up to two batches
  per pool process in flight), so a lone click is stored right away (tens of ms) and batches
  grow with the backlog. A message that finds every process busy waits at most
  ``FLUSH_INTERVAL`` (100 ms) before it is sent anyway.

Then:

* **committed** -> every message of the batch is acknowledged (late ack: a worker killed before
  the commit acknowledged nothing, and Redis redelivers all of them after the visibility
  timeout; storing them again changes nothing);
* **a pool process died** (``WorkerLostError``) -> every message goes back to the queue at
  once (``reject_on_worker_lost``);
* **the database failed** (``tasks.jobs.TRANSIENT``) -> the whole batch is tried again after an
  exponential backoff with jitter (2 s, 4 s, ... up to 5 min, 8 times, like ``PipelineTask``),
  its messages still unacknowledged, and no new batch is started meanwhile (the rest stays in
  Redis); after the last try each becomes a dead letter ("gave up after 8 retries: ...");
* **any other error** -> the batch is stored one message per transaction, so that one bad
  message is dead-lettered (as ``PipelineTask.on_failure`` would) and the others are stored.

A message with the wrong arguments (``(payload, "extra")``) or a body that cannot be decoded is
dead-lettered in the batch's transaction with the reason a plain task call would give. Messages
the consumer itself cannot decode or map to a task still go to ``tasks.consumer.DeadLetterConsumer``
(it runs before any strategy). At a warm shutdown, drained messages not yet settled are pushed
back to the queue (kombu does the same for what its consumer holds).

Prefetch: the consumer's own prefetch limit (``worker_prefetch_multiplier`` x concurrency, kept
small for the slow tasks) no longer limits a batch, since drained messages bypass it; nothing
needs changing. The queue drained is the app's ``CELERY_QUEUE`` (the only one the sink uses),
at the default priority.

Why not ``celery-batches`` (``celery_batches.Batches``, the library for this): version 0.11
(the newest on PyPI) requires ``celery<5.7`` (we run 5.7), and its ack handling breaks our
delivery guarantees. Its pool function swallows the task's exception and returns ``None``, and
its result callback then acknowledges every ``acks_late`` message: a batch that failed on the
database would be acknowledged and lost, with no retry. It passes no error callback to the pool,
so when a pool process dies its messages are neither acknowledged nor rejected (no
``reject_on_worker_lost``). Its buffered messages count against the prefetch limit, so with late
acks a batch never grows beyond ``prefetch_multiplier x concurrency`` messages; and it still
receives every message through Celery's consumer, a few Redis round trips each, which on a small
machine caps the rate at a few hundred messages a second whatever the batch. This module is the
smallest equivalent that keeps the guarantees and reaches bulk speed.

Not supported for this task (nothing sends them): ETAs and countdowns (the message is stored at
once; storage is ordered by ``at``), expiry, revoking, results, and the per-task events and
signals of ``celery events`` (``inspect active`` does not show batches).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from celery.signals import worker_shutdown
from celery.utils.time import get_exponential_backoff_interval

log = logging.getLogger(__name__)

#: Messages per batch at most (one transaction).
FLUSH_EVERY = 1000
#: Seconds a message waits at most for a free pool process (the chat tally waits for it).
FLUSH_INTERVAL = 0.1
#: Retries of a batch that fails on the database: as ``tasks.jobs.PipelineTask`` (``max_retries``).
MAX_RETRIES = 8


def backoff(retries: int) -> float:
    """Seconds before try ``retries + 1``: Celery's own ``retry_backoff`` rule with ``PipelineTask``'s
    settings (full jitter over 2 s, 4 s, 8 s ... capped at 5 min)."""
    from tasks.jobs import PipelineTask

    return get_exponential_backoff_interval(
        PipelineTask.retry_backoff, retries, PipelineTask.retry_backoff_max, full_jitter=PipelineTask.retry_jitter
    )


# ── the pool side: store one batch ────────────────────────────────────────────────────────────
@dataclass
class Outcome:
    """What happened to a batch: ``settled`` messages (by index) may be acknowledged; the rest
    are to be tried again in ``retry_in`` seconds."""

    settled: list[int] = field(default_factory=list)
    retry_in: float | None = None
    error: str | None = None


def _call(name: str, args: Any, kwargs: Any) -> tuple[Any, str | None]:
    """The payload of a ``task(payload)`` call, or the message's arguments and why they do not fit."""
    if isinstance(kwargs, dict) and "__undecodable__" in kwargs:
        return {"raw": args[0][:10_000]}, f"undecodable message (application/json): {kwargs['__undecodable__']}"
    if isinstance(args, list | tuple) and isinstance(kwargs, dict):
        if len(args) == 1 and not kwargs:
            return args[0], None
        if not args and list(kwargs) == ["payload"]:
            return kwargs["payload"], None
    given = {"args": list(args) if isinstance(args, list | tuple) else args, "kwargs": kwargs}
    short = name.rsplit(".", 1)[-1]
    if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
        shapes = f"{type(args).__name__} and {type(kwargs).__name__}"
        return given, f"TypeError: {short}() got arguments it cannot take ({shapes})"
    return given, f"TypeError: {short}() takes 2 positional arguments but {len(args) + 1} were given"


def _decode(raw: str | bytes) -> tuple[Any, Any]:
    """``(args, kwargs)`` of a message taken straight from the queue (``drain``: ``[body,
    content-type, body encoding]``), as kombu would decode it; a body that cannot be decoded
    becomes a call that is dead-lettered with the reason."""
    body: Any = raw
    try:
        body, content_type, encoding = json.loads(raw)
        if encoding == "base64":
            body = base64.b64decode(body)
        elif isinstance(body, str):
            body = body.encode("utf-8")
        if content_type == "application/json" and b"__type__" not in body:
            decoded = json.loads(body)  # what kombu's JSON decoder returns for plain JSON, faster
        else:
            from kombu.serialization import loads

            decoded = loads(body, content_type, "utf-8", accept={"application/json"})
        args, kwargs, _embed = decoded
    except Exception as exc:
        text = body if isinstance(body, str) else bytes(body).decode("utf-8", "replace")
        return (text,), {"__undecodable__": str(exc)}
    return args, kwargs


Call = tuple[Any, Any, bool]  # (args, kwargs, raw): raw when drained from Redis, args the raw JSON
Item = tuple[Any, str | None]  # (payload, None) to store, or (what arrived, why it cannot be stored)


def _items(name: str, calls: list[Call]) -> list[Item]:
    """Each message decoded once (drained ones here, in the pool) and checked against the task."""
    return [_call(name, *(_decode(args) if raw else (args, kwargs))) for args, kwargs, raw in calls]


def store_batch(name: str, calls: list[Call], retries: int = 0) -> Outcome:
    """Runs in a pool process: store ``calls`` (one per message) in one transaction. Never
    raises: the outcome says which messages are settled; a failure that is not the database's
    falls back to one message per transaction, where the culprit is dead-lettered."""
    from tasks import bulk, deadletter
    from tasks.jobs import TRANSIENT, _mark_dirty
    from tasks.runtime import database

    started = time.perf_counter()
    everything = list(range(len(calls)))
    try:
        items = _items(name, calls)
        payloads = [payload for payload, reason in items if reason is None]
        rejected = [(payload, reason) for payload, reason in items if reason is not None]
        result = bulk.record_ratings(database(), payloads, task=name, rejected=rejected)
    except TRANSIENT as exc:
        if retries < MAX_RETRIES:
            log.warning("batch of %s %s failed (%s); retrying", len(calls), name, type(exc).__name__)
            return Outcome(retry_in=backoff(retries), error=deadletter.reason_for(exc))
        reason = f"gave up after {retries} retries: {deadletter.reason_for(exc)}"
        _give_up(name, items, reason)
        return Outcome(settled=everything, error=reason)
    except Exception as exc:  # not the database's fault: some message in it; find which, alone
        log.warning("batch of %s %s failed (%s); storing one at a time", len(calls), name, exc)
        return _one_by_one(name, calls, retries)
    _mark_dirty(*sorted(result.turn_ids))
    log.info("%s: batch of %s stored %s in %.0f ms", name, len(calls), result.as_dict(),
             (time.perf_counter() - started) * 1000)
    return Outcome(settled=everything)


def _one_by_one(name: str, calls: list[Call], retries: int) -> Outcome:
    """Each message in its own transaction: one that fails for good is dead-lettered with its
    reason; a database failure stops here and the rest is retried."""
    from tasks import bulk, deadletter, outbox
    from tasks.jobs import TRANSIENT, _mark_dirty
    from tasks.runtime import database

    db, outcome = database(), Outcome()
    for index, call in enumerate(calls):
        try:
            ((payload, reason),) = _items(name, [call])
        except Exception as exc:  # cannot even be read: keep what arrived, with the reason
            payload, reason = {"args": repr(call[0])[:10_000]}, f"unreadable message: {deadletter.reason_for(exc)}"
        try:
            if reason:
                result = bulk.record_ratings(db, [], task=name, rejected=[(payload, reason)])
            else:
                result = bulk.record_ratings(db, [payload], task=name)
        except TRANSIENT as exc:
            outcome.retry_in, outcome.error = backoff(retries), deadletter.reason_for(exc)
            return outcome
        except Exception as exc:
            try:
                deadletter.record(db, name, payload, deadletter.reason_for(exc))
                if isinstance(payload, dict):
                    outbox.confirm(db, [outbox.key_of("record_rating", payload)])
            except TRANSIENT as again:
                outcome.retry_in, outcome.error = backoff(retries), deadletter.reason_for(again)
                return outcome
            except Exception:  # e.g. a key PostgreSQL refuses (a NUL byte): settled all the same
                log.exception("a %s message failed and its dead letter could not be stored", name)
        else:
            _mark_dirty(*result.turn_ids)
        outcome.settled.append(index)
    return outcome


def _give_up(name: str, items: list[Item], reason: str) -> None:
    from tasks import deadletter
    from tasks.runtime import database

    for payload, _ in items:
        try:
            deadletter.record(database(), name, payload, reason)
        except Exception:
            log.exception("a %s message failed and its dead letter could not be stored", name)


# ── the worker's main process: buffer, drain, dispatch, acknowledge ───────────────────────────
#: Atomically take up to ARGV[1] messages of task ARGV[2] from the consuming end of the queue and
#: record each as unacknowledged exactly as kombu's Redis transport does (``QoS.append``: the
#: ``unacked`` hash and the ``unacked_index`` sorted set), so a worker that dies holding them
#: gets them back through the visibility timeout like any other message. Stops at the first
#: message of another task (left for the normal consumer). Returns tag and ``[body,
#: content-type, body encoding]`` of each, so the pool does not parse the envelope again.
DRAIN = """
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local item = redis.call('LINDEX', KEYS[1], -1)
  if not item then break end
  local ok, msg = pcall(cjson.decode, item)
  if not ok or type(msg) ~= 'table' or type(msg.headers) ~= 'table' or msg.headers.task ~= ARGV[2]
     or type(msg.properties) ~= 'table' or type(msg.properties.delivery_tag) ~= 'string' then
    break
  end
  local tag = msg.properties.delivery_tag
  local info = msg.properties.delivery_info
  if type(info) ~= 'table' then info = {} end
  local ex, rk = info.exchange, info.routing_key
  if type(ex) ~= 'string' then ex = '' end
  if type(rk) ~= 'string' then rk = '' end
  redis.call('RPOP', KEYS[1])
  redis.call('ZADD', KEYS[3], ARGV[3], tag)
  redis.call('HSET', KEYS[2], tag, '[' .. item .. ',' .. cjson.encode(ex) .. ',' .. cjson.encode(rk) .. ']')
  local ctype, enc = msg['content-type'], msg.properties.body_encoding
  if type(ctype) ~= 'string' then ctype = '' end
  if type(enc) ~= 'string' then enc = '' end
  out[#out + 1] = tag
  out[#out + 1] = cjson.encode({msg.body, ctype, enc})
end
return out
"""


class Held:
    """One message of a batch, unacknowledged until its batch is settled: delivered by the
    consumer (``message``), or drained from the queue by ``DRAIN`` (``tag`` and ``raw``)."""

    __slots__ = ("message", "args", "kwargs", "tag")

    def __init__(self, message: Any, args: Any, kwargs: Any, tag: str | None = None) -> None:
        self.message, self.args, self.kwargs, self.tag = message, args, kwargs, tag


_live: list[BatchStrategy] = []


class BatchStrategy:
    """The consumer-side strategy of a batched task (``Task.Strategy``; see the module docstring)."""

    def __init__(self, task: Any, app: Any, consumer: Any, **_: Any) -> None:
        self.app = app
        self.name = task.name
        self.pool = consumer.pool
        self.timer = consumer.timer
        self.errors = consumer.connection_errors
        self.flush_every = int(getattr(task, "flush_every", FLUSH_EVERY))
        self.flush_interval = float(getattr(task, "flush_interval", FLUSH_INTERVAL))
        # Batches in the pool at once: two per process, so that a process that finishes a batch
        # finds the next one waiting instead of waiting for this process to drain it.
        self.slots = 2 * max(1, int(getattr(self.pool, "num_processes", None) or getattr(self.pool, "limit", 1) or 1))
        self.buffer: list[Held] = []
        self.running = 0  # batches in the pool
        self.waiting = 0  # batches waiting to be tried again: the database is in trouble, take no more
        self.drained: dict[str, Held] = {}  # drained messages not yet settled, by delivery tag
        self.more = False  # the last drain filled its batch: the queue probably holds more
        self._tref: Any = None
        self._redis: Any = None
        self._drain: Any = None
        self.queue = app.conf.task_default_queue
        options = app.conf.broker_transport_options or {}
        self.unacked_key = options.get("unacked_key", "unacked")
        self.unacked_index_key = options.get("unacked_index_key", "unacked_index")
        _live.append(self)

    # The consumer calls this for every message naming the task.
    def __call__(self, message: Any, body: Any, ack: Any, reject: Any, callbacks: Any = None, **_: Any) -> None:
        # Celery passes ``callbacks`` positionally; a batch acknowledges through ``message`` itself.
        args, kwargs = _arguments(message, body)
        self.buffer.append(Held(message, args, kwargs))
        self.pump()

    def pump(self) -> None:
        """Send batches while a pool process is free; otherwise wait (at most ``flush_interval``)."""
        while not self.waiting and self.running < self.slots and (self.buffer or self.more):
            batch, self.buffer = self.buffer[: self.flush_every], self.buffer[self.flush_every :]
            room = self.flush_every - len(batch)
            drained = self.drain(room) if room else []
            self.more = bool(room) and len(drained) == room
            batch += drained
            if not batch:
                break
            self._dispatch(batch, 0)
        if self.buffer and self._tref is None:
            self._tref = self.timer.call_after(self.flush_interval, self._interval)

    def _interval(self) -> None:
        """A message waited ``flush_interval`` for a free pool process: send it anyway (the pool
        queues it for the first process that frees up)."""
        self._tref = None
        if self.waiting:  # a batch is backing off: these would fail too; the kombu-delivered few wait
            self._tref = self.timer.call_after(self.flush_interval, self._interval)
            return
        batch, self.buffer = self.buffer, []
        for i in range(0, len(batch), self.flush_every):
            self._dispatch(batch[i : i + self.flush_every], 0)

    def drain(self, room: int) -> list[Held]:
        """Up to ``room`` more messages of this task straight from the queue, in one round trip."""
        try:
            if self._drain is None:
                import redis

                self._redis = redis.Redis.from_url(self.app.conf.broker_url, socket_connect_timeout=2,
                                                   socket_timeout=15)
                self._drain = self._redis.register_script(DRAIN)
            found = self._drain(keys=[self.queue, self.unacked_key, self.unacked_index_key],
                                args=[room, self.name, time.time()])
        except Exception as exc:  # Redis trouble: the consumer's own delivery carries on
            log.warning("%s: could not drain the queue (%s)", self.name, exc)
            return []
        batch = []
        for i in range(0, len(found), 2):
            tag = found[i].decode()
            held = Held(None, found[i + 1], None, tag=tag)
            self.drained[tag] = held
            batch.append(held)
        return batch

    def _dispatch(self, batch: list[Held], retries: int) -> None:
        self.running += 1
        calls = [(held.args, held.kwargs, held.message is None) for held in batch]
        self.pool.apply_async(
            store_batch,
            (self.name, calls, retries),
            callback=lambda outcome: self._done(batch, retries, outcome),
            error_callback=lambda exc_info: self._lost(batch, retries, exc_info),
        )

    def _done(self, batch: list[Held], retries: int, outcome: Outcome) -> None:
        self.running -= 1
        settled = set(outcome.settled)
        self._settle([held for i, held in enumerate(batch) if i in settled], requeue=None)
        rest = [held for i, held in enumerate(batch) if i not in settled]
        if rest:
            delay = outcome.retry_in if outcome.retry_in is not None else backoff(retries)
            log.warning("%s: %s messages to try again in %.1f s (%s)", self.name, len(rest), delay,
                        outcome.error)
            self._later(delay, rest, retries + 1)
        self.pump()

    def _later(self, delay: float, batch: list[Held], retries: int) -> None:
        """Try the batch again after ``delay``; until then no new batch is started."""
        self.waiting += 1

        def again() -> None:
            self.waiting -= 1
            self._dispatch(batch, retries)

        self.timer.call_after(delay, again)

    def _lost(self, batch: list[Held], retries: int, exc_info: Any) -> None:
        from billiard.exceptions import WorkerLostError

        self.running -= 1
        exc = getattr(exc_info, "exception", exc_info)
        exc = getattr(exc, "exc", exc)  # billiard wraps it (ExceptionWithTraceback)
        if isinstance(exc, WorkerLostError):  # the pool process died: give the messages back
            log.error("%s: pool process lost with a batch of %s; requeued", self.name, len(batch))
            self._settle(batch, requeue=True)
        elif retries >= MAX_RETRIES:  # as PipelineTask gives up; clicks sent by the bots keep their outbox rows
            log.critical("%s: batch of %s could not run after %s tries (%r); acknowledged, the outbox relay "
                         "resends what the bots wrote ahead", self.name, len(batch), retries + 1, exc)
            self._settle(batch, requeue=None)
        else:
            log.error("%s: batch of %s could not run (%r); trying again", self.name, len(batch), exc)
            self._later(backoff(retries), batch, retries + 1)
        self.pump()

    def _settle(self, batch: list[Held], *, requeue: bool | None) -> None:
        """Acknowledge (``requeue`` None) or requeue the messages."""
        tags = [held.tag for held in batch if held.tag is not None]
        if tags:
            self._settle_drained(tags, requeue=bool(requeue))
        for held in batch:
            if held.message is None:
                continue
            if requeue is None:
                held.message.ack_log_error(log, self.errors)
            else:
                held.message.reject_log_error(log, self.errors, requeue=requeue)

    def _settle_drained(self, tags: list[str], *, requeue: bool) -> None:
        """One round trip for the whole batch: forget the unacknowledged records (an ack), after
        pushing the messages back to the consuming end of the queue (``requeue``)."""
        try:
            pipe = self._redis.pipeline()
            if requeue:
                for record in self._redis.hmget(self.unacked_key, tags):
                    if record:  # [message, exchange, routing key], as kombu keeps it
                        pipe.rpush(self.queue, json.dumps(json.loads(record)[0]))
            pipe.zrem(self.unacked_index_key, *tags).hdel(self.unacked_key, *tags)
            pipe.execute()
        except Exception as exc:  # the visibility timeout brings them back; storing again is harmless
            log.critical("%s: could not settle %s drained messages: %r", self.name, len(tags), exc)
        for tag in tags:
            self.drained.pop(tag, None)

    def release(self) -> None:
        """Worker shutdown: drained messages not yet settled go back to the queue at once (kombu
        does the same for the messages its consumer holds)."""
        if self.drained and self._redis is not None:
            log.warning("%s: requeueing %s unsettled messages at shutdown", self.name, len(self.drained))
            self._settle_drained(list(self.drained), requeue=True)


@worker_shutdown.connect(weak=False)
def _release_all(**_: Any) -> None:
    for strategy in _live:
        strategy.release()


def _arguments(message: Any, body: Any) -> tuple[Any, Any]:
    """``(args, kwargs)`` of a task message (protocol 2; protocol 1 bodies carry them as keys).
    A body that cannot be decoded raises here and the consumer dead-letters it."""
    from celery.exceptions import InvalidTaskError

    payload = body if body is not None else message.decode()
    if isinstance(payload, dict):  # protocol 1, or a hybrid body
        return payload.get("args", ()), payload.get("kwargs", {})
    if isinstance(payload, list | tuple) and len(payload) == 3:
        return payload[0], payload[1]
    raise InvalidTaskError(f"not a task message body: {type(payload).__name__}")
