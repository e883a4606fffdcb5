"""The ``local`` provider: the packaged SmolLM2 in this process, with and without a LoRA adapter.

Generations are a few tokens long (CPU time is the suite's budget); the full feedback JSON with
real weights is measured in bench/ (bench_tgi_local.py, bench_finetune.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chains import prompts, providers
from chains.bank import load_bank
from chains.contract import GradeRequest
from tests.conftest import make_settings

SCORE = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"],
         "additionalProperties": False}
PROMPT = [{"role": "user", "content": "Rate this answer from 1 to 10: 'I fixed the outage by rolling back.'"}]


@pytest.fixture(scope="module")
def lora_dir(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on SmolLM2 with random (not zero) weights: it must change what the model writes."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    out = tmp_path_factory.mktemp("adapter") / "mb-trl-sft-test"
    get_peft_model(base, config).save_pretrained(out)
    return out


def test_constrained_generation_is_json_to_the_schema_and_reports_its_rate(smollm2_dir: Path) -> None:
    from chains.local.generate import load

    model = load(smollm2_dir)
    constrained = model.generate(PROMPT, schema=SCORE, max_new_tokens=12)
    assert isinstance(json.loads(constrained.text)["score"], int)
    assert constrained.constrained and constrained.new_tokens <= 12 and constrained.tokens_per_s > 0
    raw = model.generate(PROMPT, max_new_tokens=4)
    assert not raw.constrained and raw.new_tokens == 4 and raw.text != constrained.text


def test_an_adapter_changes_the_output_and_the_base_stays_reachable(smollm2_dir: Path, lora_dir: Path) -> None:
    from chains.local.generate import load

    model = load(smollm2_dir)
    before = model.generate(PROMPT, max_new_tokens=4).text
    model.add_adapter("probe", lora_dir)
    assert model.generate(PROMPT, max_new_tokens=4, adapter="probe").text != before
    assert model.generate(PROMPT, max_new_tokens=4).text == before  # adapter=None is the base alone
    with pytest.raises(KeyError, match="no adapter named"):
        model.generate(PROMPT, adapter="never-loaded")


def test_the_provider_goes_through_the_chain_repair_and_fallback(
    smollm2_dir: Path, lora_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOCAL_MODEL / LOCAL_ADAPTER / LOCAL_CONSTRAINED reach the model; a reply cut off by the token cap
    is invalid, asked to be repaired once, and the fallback order's offline rubric answers (the record says why)."""
    from chains.local.generate import LocalModel

    calls: list[tuple[str | None, bool]] = []
    systems: list[str] = []
    original = LocalModel.generate

    def recording(self: LocalModel, prompt: object, **options: object) -> object:
        calls.append((options.get("adapter"), options.get("schema") is not None))  # type: ignore[arg-type]
        systems.append(prompt[0]["content"])  # type: ignore[index]
        return original(self, prompt, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalModel, "generate", recording)
    settings = make_settings(LLM_PROVIDER="local", LOCAL_MODEL=str(smollm2_dir), LOCAL_ADAPTER=str(lora_dir),
                             LOCAL_MAX_NEW_TOKENS=16, LOCAL_CONSTRAINED=False)  # the grammar is tested above
    question = next(iter(load_bank().by_id.values()))
    result = providers.build(settings).grade(GradeRequest(question=question, answer="I rolled back the deploy."))
    assert calls == [("mb-trl-sft-test", False), ("mb-trl-sft-test", False)]  # first reply, then the repair
    compact = prompts.load(f"feedback_{question.kind}").compact  # the prompt the local models are trained on
    assert systems == [compact, compact]
    assert result.call.provider == "offline" and result.call.fell_back
    assert result.call.errors[0].startswith("local: invalid output twice")
    assert 1 <= result.value.score <= 10


def test_a_registry_version_name_selects_its_adapter_under_the_data_dir(smollm2_dir: Path, lora_dir: Path) -> None:
    """The A/B path: a session's ``model`` is a version name; its adapter lives in <data dir>/models/<name>."""
    import shutil

    from chains.providers.local import build

    settings = make_settings(LOCAL_MODEL=str(smollm2_dir))
    shutil.copytree(lora_dir, settings.data_dir / "models" / "mb-trl-dpo-20261204-170000")
    provider = build(settings)
    assert provider.model == "local-base"
    variant = provider.with_model("mb-trl-dpo-20261204-170000")
    assert (variant.model, provider.model) == ("mb-trl-dpo-20261204-170000", "local-base")
    with pytest.raises(providers.ProviderError, match="no PEFT adapter"):
        provider.with_model("mb-trl-never-trained")


def test_a_base_that_does_not_exist_fails_like_a_dead_provider() -> None:
    settings = make_settings(LLM_PROVIDER="local", LOCAL_MODEL="no/such/model")
    with pytest.raises(providers.ProviderError, match="LOCAL_MODEL: no base model"):
        providers.create("local", settings)


def test_the_local_grammar_bounds_every_list_and_string_and_its_longest_reply() -> None:
    """``bounded`` caps what the wire schema leaves open (or too loose); ``max_reply_chars`` is the
    length of the longest reply the grammar admits, spaces included, so a token cap that long closes it."""
    from chains.llm.schema import exact_json_schema
    from chains.llm.wire import FeedbackOut
    from chains.local.generate import MAX_ITEM_CHARS, MAX_ITEMS, MAX_TEXT_CHARS, bounded, max_reply_chars

    schema = bounded(exact_json_schema(FeedbackOut))
    fields = schema["properties"]
    assert list(fields)[-1] == "score"  # the judgement is written before the number
    assert fields["summary"]["maxLength"] == MAX_TEXT_CHARS and fields["strengths"]["maxItems"] == MAX_ITEMS
    assert fields["strengths"]["items"]["maxLength"] == MAX_ITEM_CHARS
    assert fields["criteria"]["items"]["properties"]["name"]["maxLength"] == 40  # the wire's own, tighter
    assert schema["x-guidance"] == {"whitespace_pattern": " ?"}
    item = "x" * MAX_ITEM_CHARS
    longest = {name: [item] * MAX_ITEMS for name in ("strengths", "weaknesses", "suggestions")}
    longest["criteria"] = [{"name": "x" * 40, "score": 10}] * MAX_ITEMS
    longest |= {"summary": "x" * MAX_TEXT_CHARS, "score": 10}
    text = json.dumps(longest, separators=(" , ", " : "))
    for bracket in "{[":
        text = text.replace(bracket, bracket + " ")
    for bracket in "}]":
        text = text.replace(bracket, " " + bracket)
    assert max_reply_chars(exact_json_schema(FeedbackOut)) == len(text)
    assert max_reply_chars(SCORE) is None  # an integer without a range has no longest form


def test_a_bounded_reply_closes_even_when_the_token_cap_asked_for_is_too_short(smollm2_dir: Path) -> None:
    from chains.local.generate import load

    schema = {"type": "object", "additionalProperties": False, "required": ["summary", "score"],
              "properties": {"summary": {"type": "string", "maxLength": 12},
                             "score": {"type": "integer", "minimum": 1, "maximum": 10}}}  # fmt: skip
    reply = load(smollm2_dir).generate(PROMPT, schema=schema, max_new_tokens=1)
    value = json.loads(reply.text)
    assert len(value["summary"]) <= 12 and 1 <= value["score"] <= 10 and reply.new_tokens > 1


def test_the_score_is_read_as_the_median_of_the_models_distribution(smollm2_dir: Path) -> None:
    """The readout's cached short passes give the same distribution as scoring each value from scratch."""
    import torch

    from chains.local.generate import load
    from chains.local.readout import median_value, with_value

    model = load(smollm2_dir)
    prompt_ids = model.prompt_ids(PROMPT)
    text = '{"summary": "Clear, with a measured result.", "score": 7}'
    reply_ids = model.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    with torch.inference_mode():
        value = median_value(model.model, model.tokenizer, prompt_ids, reply_ids, text, "score", 1, 10)
        head = model.tokenizer('{"summary": "Clear, with a measured result.", "score": ', add_special_tokens=False,
                               return_tensors="pt")["input_ids"][0]  # fmt: skip
        scores = []
        for v in range(1, 11):
            tail = model.tokenizer(f"{v}}}", add_special_tokens=False, return_tensors="pt")["input_ids"][0]
            ids = torch.cat([prompt_ids[0], head, tail]).unsqueeze(0)
            logits = torch.log_softmax(model.model(input_ids=ids).logits[0], dim=-1)
            start = ids.shape[1] - len(tail)
            scores.append(sum(float(logits[start - 1 + j, t]) for j, t in enumerate(tail.tolist())))
    weights = torch.softmax(torch.tensor(scores), dim=0).cumsum(0).tolist()
    assert value == next(v for v, c in zip(range(1, 11), weights, strict=True) if c >= 0.5)
    assert with_value(text, "score", 3) == '{"summary": "Clear, with a measured result.", "score": 3}'
    assert median_value(model.model, model.tokenizer, prompt_ids, reply_ids[:-1], text[:-1], "score", 1, 10) is None
