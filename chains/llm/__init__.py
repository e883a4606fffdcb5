"""The LLM side's chains: LangChain Runnables with pydantic in and out, shared by every provider.

``LLMProvider(backend)`` gives the engine question generation, answer feedback, follow-ups
and the session report from any chat model a provider module wraps as a ``Backend``.
"""

from chains.llm.backend import Backend, OutputSpec
from chains.llm.chain import InvalidOutput, StructuredChain
from chains.llm.provider import LLMProvider

__all__ = ["Backend", "InvalidOutput", "LLMProvider", "OutputSpec", "StructuredChain"]
