"""`smd lm-eval ARGS`: lm-eval's own command line with our models `smd-encoder` and `smd-hf` registered.

    smd lm-eval --model smd-encoder --model_args pretrained=models/tiny,peft=RUN/best,encoder=RUN/best,\\
        data_root=data/demo/babel_qa --tasks smd_babel_qa_mc --apply_chat_template \\
        --metadata '{"smd_variant": "motion", "data_root": "data/demo/babel_qa"}'

lm-eval 0.4 finds its models in a fixed table (`lm_eval.models`), not through plugins, so plain `lm_eval`
cannot name a model another package defines; this runs lm-eval's `cli_evaluate` unchanged after
importing `harness.evaluate.encoder_lm` and `.shared_context_lm`, which register them (`smd-hf`: `hf` with
a question's options scored over one pass of its prompt). Every other model and option is lm-eval's.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from lm_eval.__main__ import cli_evaluate

    from . import encoder_lm, shared_context_lm  # noqa: F401  (register `smd-encoder`, `smd-hf`)

    sys.argv = ["lm_eval", *(sys.argv[1:] if argv is None else argv)]
    cli_evaluate()
    return 0
