"""`smd evaluate`: one results cell, a backbone (+ adapter or encoder) scored on one lm-eval task.

- `main`: the stage (`smd evaluate`; `python -m harness.evaluate`): request, lm-eval run, the cell and
  its provenance, the per-doc samples;
- `lm_eval_io`: what goes into lm-eval and comes out of it (model arguments, pinned seeds, task
  versions, metrics, sample rows, the request cache);
- `tasks`: what the task YAMLs of `tasks/` call (docs, prompts, answer extraction, caption metrics);
- `kept`: the answers a killed evaluation kept in its request cache (`--kept-only`);
- `encoder_lm`: lm-eval's `smd-encoder` model (the encoder baseline); `lm_eval_cli`: `smd lm-eval`,
  lm-eval's command line with that model registered.

The face is `tasks`, the module lm-eval loads through `tasks/utils.py`; nothing else here is imported
from outside (the stages run through `smd`).
"""

__all__ = ["tasks"]
