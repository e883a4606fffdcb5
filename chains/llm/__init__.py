"""The LLM side's chains: LangChain Runnables with pydantic in and out, shared by every provider.

``chains.providers.llm.LLMProvider(backend)`` gives the engine question generation, answer
feedback, follow-ups and the session report from any chat model a provider module wraps as a
``Backend`` (``chains.llm.backend``). Nothing is imported here, so the pure modules
(``parse``, ``schema``, ``safety``) load without LangChain.
"""
