"""The LLM side's shared parts, none tied to one provider.

``task`` (a prompt file in, a validated result out; ``question``, ``feedback``, ``follow_up`` and
``report`` build one each), ``wire`` and ``schema`` (what the model writes, and the JSON Schema
its constrained output is given), ``parse`` (strict, then lenient), ``safety`` (untrusted text as
delimited data), ``errors`` and ``retry`` (one readable failure, backoff), ``preview`` (readable
text from a streamed partial reply). The providers that use them are one class each on
``chains.providers.base.ChatProvider``. Nothing is imported here, and none of them needs
LangChain, so they load without it.
"""
