"""The run of a plan: lm-eval's `simple_evaluate` on the plan's one task, with its model and arguments,
pinned seeds and the request cache the plan names. It writes nothing of the cell (`.record` does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .lm_eval_io import SEEDS, lm_eval_task_manager, quiet_git_probe
from .plan import EvalInputError, EvalPlan

__all__ = ["LmEvalRun", "run_lm_eval"]


@dataclass(frozen=True)
class LmEvalRun:
    """What one `simple_evaluate` call gave back, and when it ran.

    Attributes:
        results: lm-eval's result mapping (`results`, `n-samples`, `samples`, `versions`, `config`).
        model_args: the model arguments it ran with.
        started: when the task had loaded and the model was about to (UTC).
        wall_seconds: from then to the end of `simple_evaluate`.
    """

    results: dict[str, Any]
    model_args: dict[str, Any]
    started: datetime
    wall_seconds: float


def run_lm_eval(plan: EvalPlan) -> LmEvalRun | None:
    """Score the plan's task; None on a non-main process of a data-parallel run (rank 0 records).

    Raises:
        EvalInputError: the task cannot load its docs (the message names the file).
    """
    import torch
    from lm_eval import simple_evaluate

    request = plan.request
    cuda = torch.cuda.is_available()
    if plan.backbone is None:  # registers lm-eval's model `smd-answer-prior`
        from . import answer_prior  # noqa: F401
    if request.encoder:  # registers lm-eval's model `smd-encoder`
        from . import encoder_lm  # noqa: F401
    else:  # registers lm-eval's model `smd-hf`
        from . import shared_context_lm  # noqa: F401
    args = plan.model_args(cuda=cuda)
    try:  # the task reads its docs (and leaves out those too long) before simple_evaluate loads the model
        task = lm_eval_task_manager(args | plan.task_metadata).load([request.task])["tasks"][request.task]
    except (FileNotFoundError, ValueError) as e:
        raise EvalInputError(str(e)) from None
    started, clock = datetime.now(timezone.utc), time.monotonic()
    # every answer goes to the request cache as it is produced, so a killed or failed run keeps its
    # generations and the same command resumes from them
    with quiet_git_probe():
        res = simple_evaluate(
            model=plan.lm_eval_model,
            model_args=args,
            tasks=[task],
            apply_chat_template=True,
            batch_size=request.batch_size,
            device="cuda" if cuda else "cpu",
            limit=request.limit,
            log_samples=True,
            use_cache=str(plan.request_cache),
            **SEEDS,
        )
    if res is None:
        return None
    return LmEvalRun(res, args, started, time.monotonic() - clock)
