"""Operations: Prometheus metrics, health checks and the small HTTP server that serves them.

Processes call ``start_ops_server()`` at startup (bots) or get it from Celery signals
(``bot.ops.worker``, for the worker and beat). The engine records through ``bot.ops.metrics``.
"""

from bot.ops.server import OpsServer, start_ops_server

__all__ = ["OpsServer", "start_ops_server"]
