"""lm-eval's own command line, with its `hf` model sharding the requests over CPU processes too.

    accelerate launch --multi_gpu --num_processes 2 -m tests.lm_eval_data_parallel --model hf-dp ...

lm-eval's `hf` model turns on data parallelism under `accelerate launch` only when it counts more than
one CUDA device; on a machine without GPUs every process would score every request. `hf-dp` is that
model with the one gate lifted: the rank and world size come from accelerate whatever the device, so
lm-eval's own sharding (`rank::world_size` of each task's instances), padding and gathering run on
the CPU processes exactly as on GPUs. Test-only: on GPUs, `--model hf` does this by itself.

With `$SMD_SERVED_DIR` set, each process also lists the (task, doc id) of every request it scored in
`served.rank<k>.jsonl` there, so a test sees how the work was shared.
"""

import json
import os
from pathlib import Path

from lm_eval.__main__ import cli_evaluate
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM


@register_model("hf-dp")
class DataParallelHFLM(HFLM):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        accelerator = getattr(self, "accelerator", None)  # HFLM keeps it when several processes run
        if accelerator is not None and self._world_size == 1:
            self._rank = accelerator.process_index
            self._world_size = accelerator.num_processes

    def _served(self, requests) -> None:
        folder = os.environ.get("SMD_SERVED_DIR")
        if folder:
            with (Path(folder) / f"served.rank{self.rank}.jsonl").open("a") as f:
                for r in requests:
                    f.write(json.dumps({"task": r.task_name, "doc_id": r.doc_id}) + "\n")

    def loglikelihood(self, requests, *args, **kwargs):
        self._served(requests)
        return super().loglikelihood(requests, *args, **kwargs)

    def generate_until(self, requests, *args, **kwargs):
        self._served(requests)
        return super().generate_until(requests, *args, **kwargs)


if __name__ == "__main__":
    cli_evaluate()
