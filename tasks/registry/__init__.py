"""The model registry: candidates, an evaluation gate, a traffic split, promotion and rollback.

One module per job: ``versions`` (storage), ``gate``, ``traffic`` (the split), ``measurement``
(the arms' statistics), ``policy`` (promotion, rollback, review) and ``sequential`` (the test).
May import ``bot.store`` only. Its public names are re-exported here.

Every trained version (a TGI LoRA adapter, an OpenAI fine-tuned model, a Gemini few-shot
exemplar set) is a row in ``model_versions``: status ``candidate`` -> ``live`` -> ``retired``.

- **Gate.** A candidate takes traffic or goes live only if its held-out metrics pass:
  JSON validity, agreement with the recruiter-approved score (within one point), and, where
  it can be measured (TRL DPO/KTO), preference accuracy at least 0.5 and no lower than the
  base model's. Missing measurements fail the gate.
- **Split.** ``choose_variant`` picks, for each NEW session, a candidate with probability
  equal to its ``traffic_share``, otherwise the live version (or ``None``: the configured
  default). The engine stores the pick in ``interview_sessions.model_version`` and passes it
  to the provider as ``request.model`` (OpenAI model name, TGI ``adapter_id``), so every turn
  and every 👍 / 👎 is attributable to a version.
- **Decision.** An always-valid sequential test (``sequential``: a mixture SPRT on the
  difference of the arms' mean per-session 👍 share) is applied whenever ``review`` runs,
  hourly or not, with false promotions plus false rollbacks at most alpha (0.05) in total.
  Sessions are the units (each session's ratings are one observation). Before
  ``min_sessions`` per arm nothing is decided; evidence that the candidate is better:
  promote; worse: roll back (retire, no more traffic); nothing after ``max_days``: "no
  difference", the candidate is retired. A manual promotion is refused when the candidate
  is measured worse, so no measurably worse model goes live.
- **Attribution.** A session belongs to the arm of the variant it was assigned
  (``interview_sessions.model_version``). Only turns that variant answered itself count as
  its 👍 / 👎; a turn where it failed and a fallback provider answered (``turns.fell_back``;
  the turn's ``model_version`` names the fallback model) counts as one failure (a
  👎-equivalent) for the arm, so a model that fails more cannot look better. Each arm reports
  its fallback rate. Only the session's candidate's and recruiters' ratings count; anyone
  else's is stored and shown but never moves an arm (``bot.store.tally``).
"""
from tasks.registry import sequential
from tasks.registry.gate import (
    Check,
    GateResult,
    GateThresholds,
    check_gate,
    record_metrics,
    register_candidate,
    run_gate,
)
from tasks.registry.measurement import POLICY_ENV, Arm, Comparison, compare, current_policy
from tasks.registry.policy import Decision, Rollback, promote, review, rollback
from tasks.registry.traffic import choose_variant, set_traffic, variant_chooser
from tasks.registry.versions import (
    BACKENDS,
    CANDIDATE,
    LIVE,
    PROVIDER_BACKEND,
    RETIRED,
    RegistryError,
    VersionView,
    get_version,
    list_versions,
    serving_id,
    splittable,
)

__all__ = [
    "BACKENDS", "CANDIDATE", "LIVE", "POLICY_ENV", "PROVIDER_BACKEND", "RETIRED", "Arm", "Check", "Comparison",
    "Decision", "GateResult", "GateThresholds", "RegistryError", "Rollback", "VersionView", "check_gate",
    "choose_variant", "compare", "current_policy", "get_version", "list_versions", "promote", "record_metrics",
    "register_candidate", "review", "rollback", "run_gate", "sequential", "serving_id", "set_traffic", "splittable",
    "variant_chooser",
]
