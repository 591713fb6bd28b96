"""`smd evaluate`: one results cell, a backbone (+ adapter or encoder) scored on one lm-eval task.

- `main`: the stage (`smd evaluate`; `python -m harness.evaluate`): `run_evaluation(EvalRequest)`, and
  the argv that `main` turns into that request;
- `plan`: the request, resolved and checked before a model loads (cell, docs, backbone, adapter, the
  inputs that decide the numbers, the request cache's key, the lm-eval model and its arguments);
- `run`: lm-eval's `simple_evaluate` on the plan; `record`: the cell, its per-doc samples, its
  provenance and the run log;
- `lm_eval_io`: what goes into lm-eval and comes out of it (model arguments, pinned seeds, task
  versions, metrics, sample rows, the request cache);
- `tasks`: what the task YAMLs of `tasks/` call (docs, prompts, answer extraction, caption metrics);
- `kept`: the answers a killed evaluation kept in its request cache (`--kept-only`);
- `encoder_lm`: lm-eval's `smd-encoder` model (the encoder baseline); `shared_context_lm`: lm-eval's
  `smd-hf` model (`hf`, a question's options scored over one pass of its prompt; what a backbone is
  scored by); `lm_eval_cli`: `smd lm-eval`, lm-eval's command line with those models registered.

The face is `tasks`, the module lm-eval loads through `tasks/utils.py`; nothing else here is imported
from outside (the stages run through `smd`).
"""

__all__ = ["tasks"]
