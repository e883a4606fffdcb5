"""The Slack adapter: a thin translator between Slack (via slack-bolt) and the interview engine.

Slack requests become engine calls (``interviews``, ``feedback``, ``stats``, ``home``);
engine results become Block Kit (``blocks``, ``modals``). No interview state lives here.
"""
