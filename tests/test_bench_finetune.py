"""bench/bench_finetune.py's driver: a failed variant makes the run exit non-zero and is named."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import bench_finetune


def test_a_failed_variant_exits_non_zero_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def child(variant: str, args: Any, phase: str) -> dict[str, Any]:  # no training: the children's answers
        if variant == "dpo-lora":
            return {"variant": variant, "error": "exit 1, see dpo-lora-constrained.log"}
        return {"variant": variant, "constrained": 2, "valid_constrained": 1.0, "constrained_mae": 1.5,
                "constrained_spearman": None}

    monkeypatch.setattr(bench_finetune, "_child", child)
    store = tmp_path / "results.json"
    store.write_text(json.dumps([{"variant": "base", "error": "exit 1, an earlier run"}]))
    argv = ["bench_finetune", "--phase", "constrained", "--variants", "base,dpo-lora", "--out", str(tmp_path),
            "--cache", str(tmp_path)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        bench_finetune.main()
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert "1 of 2 variant(s) failed: dpo-lora (exit 1, see dpo-lora-constrained.log)" in err
    assert "| base | - | - | - | - | - | 100% of 2 | 1.50 | - |" in out  # constrained MAE; n < 3: no Spearman
    assert "| dpo-lora | error: exit 1" in out
    saved = {r["variant"]: r for r in json.loads(store.read_text())}
    assert "error" not in saved["base"]  # this run's success replaces the earlier run's error

    monkeypatch.setattr(sys, "argv", [*argv[:4], "base", *argv[5:]])
    bench_finetune.main()  # every variant measured: exits normally
