"""Base specs resolve to HF directories; the packaged SmolLM2's GGUF file is converted once and reused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from chains.local import BaseModelError, resolve_base
from chains.local.bases import CONVERTED_MARKER, packaged_gguf


def test_the_packaged_gguf_becomes_a_float32_llama_checkpoint(smollm2_dir: Path) -> None:
    from safetensors import safe_open

    config = json.loads((smollm2_dir / "config.json").read_text(encoding="utf-8"))
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["dtype"] == "float32"
    assert "quantization_config" not in config  # a later load must not look for the .gguf file
    assert (smollm2_dir / CONVERTED_MARKER).is_file()
    assert (smollm2_dir / "chat_template.jinja").read_text(encoding="utf-8").count("<|im_start|>") >= 1
    with safe_open(str(smollm2_dir / "model.safetensors"), "pt") as weights:
        tensors = [weights.get_slice(name) for name in weights.keys()]  # noqa: SIM118 (safe_open is no dict)
        parameters = sum(math.prod(tensor.get_shape()) for tensor in tensors)
        dtypes = {tensor.get_dtype() for tensor in tensors}
    assert parameters == 134_515_008  # SmolLM2-135M, embeddings tied
    assert dtypes == {"F32"}


def test_a_converted_base_is_reused_not_converted_again(smollm2_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached conversion should have been reused")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_conversion)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", no_conversion)
    cache = smollm2_dir.parent
    assert resolve_base("smollm2", cache) == smollm2_dir
    assert resolve_base(" SmolLM2 ", cache) == smollm2_dir
    assert resolve_base(str(packaged_gguf("smollm2")), cache) == smollm2_dir  # the same file, by path
    assert resolve_base(smollm2_dir, cache) == smollm2_dir  # an HF directory is used as it is


@pytest.mark.parametrize("spec", ["smollm3", "no/such/dir", "config.json"])
def test_a_spec_that_names_no_model_gets_one_line_with_the_choices(spec: str, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(BaseModelError) as error:
        resolve_base(spec, tmp_path / "cache")
    message = str(error.value)
    assert "\n" not in message and "a .gguf file" in message and "smollm2" in message
    assert not (tmp_path / "cache").exists()  # nothing was converted or created


def test_a_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="without config.json"):
        resolve_base(tmp_path, tmp_path / "cache")
