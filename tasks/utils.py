# lm-eval loads this file by path (`!function utils.name`); the functions live in the installed
# `harness` package so that every task shares one module state.
from harness.lm_eval_tasks import (  # noqa: F401
    babel_qa_docs,
    caption_doc_to_text,
    doc_to_choice,
    doc_to_target,
    humanml3d_docs,
    humman_qa_docs,
    qa_doc_to_text,
    qa_process_results,
)
