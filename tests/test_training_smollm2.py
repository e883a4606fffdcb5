"""``mockingbird retrain --backend trl --base smollm2`` on the real packaged model: one LoRA step each for
SFT and DPO, in the product's feedback prompt. Slow by nature (135 M parameters on the CPU), so a single
step on two rows; the tiny random models in test_training_trl.py cover the methods and adapters in depth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.training_support import write_jsonl

pytestmark = pytest.mark.slow


def test_one_lora_step_of_sft_and_dpo_on_the_packaged_smollm2(
    smollm2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from safetensors.torch import load_file

    from bot.store.db import Database
    from tasks import registry
    from tasks.training import annotated_rows

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    # `--base smollm2` resolves through DATA_DIR/base-models: point it at the fixture's converted copy.
    monkeypatch.setenv("MOCKINGBIRD_DATA_DIR", str(smollm2_dir.parent.parent))
    torch.set_num_threads(2)
    files = {
        "sft": write_jsonl(tmp_path / "sft.jsonl", annotated_rows.sft_rows("train")[:2]),
        "dpo": write_jsonl(tmp_path / "dpo.jsonl", annotated_rows.dpo_rows("train")[:2]),
    }
    for method, rows in files.items():
        out = tmp_path / f"smol-{method}"
        result = CliRunner().invoke(app, [
            "retrain", "--backend", "trl", "--base", "smollm2", "--data", str(rows), "--method", method,
            "--no-annotated", "--heldout", "0", "--max-steps", "1",
            "--batch-size", "1", "--lora-r", "4", "--max-length", "1280", "--eval-samples", "0", "--out", str(out),
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        config = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
        assert (config["peft_type"], config["base_model_name_or_path"]) == ("LORA", str(smollm2_dir))
        trained = [w for name, w in load_file(str(out / "adapter_model.safetensors")).items() if "lora_B" in name]
        assert trained and any(w.abs().max() > 0 for w in trained)  # lora_B starts at zero: one step moved it
        view = registry.get_version(Database(url), out.name)
        assert (view.base_model, view.metrics["train_steps"], view.metrics["method"]) == (
            str(smollm2_dir), 1, method
        )

