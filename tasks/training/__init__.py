"""Retraining: TRL (DPO / KTO / SFT with PEFT), OpenAI preference fine-tuning, Gemini few-shot refresh.

Importing this package is cheap: torch, transformers, trl and peft are imported inside the
functions that train (``tasks.training.trl_backend``), so the bots never need the ``train`` extra.
The entry point for the retraining trigger is ``tasks.training.entry.retrain_from_settings``.
"""
