"""Training on two processes (DDP over gloo, CPU): the adapter one process trains with the same global
batch, and a killed two-process run resumes to the uninterrupted one.

Launched as users launch it: `accelerate launch --multi_gpu --num_processes 2 -m harness.train ...`.
On a machine without GPUs that spawns two CPU processes through torchrun (accelerate's MULTI_CPU);
`accelerate launch --cpu --num_processes 2` would run a single process (accelerate starts several CPU
processes only through mpirun), which the run log's process count would show.
"""

import json
import os
import socket
import subprocess
import sys

import pytest

pytest.importorskip("peft")
pytest.importorskip("accelerate")

from tests.builders import KILLING_TRAINER, REPO  # noqa: E402

# 16 docs in batches of 2: 8 micro-batches an epoch, 4 optimizer steps of 2 micro-batches (one process
# with grad_accum 2, or two processes with one each); dropout off, so both see the same arithmetic. The
# answer texts (`qa_target: text`) differ in length, so micro-batches hold different token counts and
# only a loss normalised over the whole step's tokens, on all processes, gives one process's gradients.
SETTINGS = {
    "epochs": 2, "batch_size": 2, "save_every": 2, "lr": 2e-3, "lora_dropout": 0.0, "val_limit": 4,
    "qa_target": "text", "packing": "none",
}  # fmt: skip
# (unpacked: on several processes `auto` trains unpacked, so the one-process run must too to be the same
# arithmetic; shared-prefix packing over DDP is refused, tests/harness/test_train_packing.py)
# float sums in another order (DDP's all-reduce against accumulation in one process), over 8 AdamW
# steps; measured: step losses within 2.4e-7, adapters equal to the bit
TOLERANCE = 1e-6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra) -> dict:
    # one thread per process: two processes on a two-core machine, no oversubscription
    quiet = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    return {**os.environ, **quiet, **extra}


def _args(demo, tmp_path, out, *, grad_accum: int) -> list[str]:
    train = demo["qa"] / "docs" / "v5_top3" / "train.jsonl"
    sub = tmp_path / "train.jsonl"
    if not sub.exists():
        sub.write_text("".join(train.read_text().splitlines(keepends=True)[:16]))
    sets = {**SETTINGS, "grad_accum": grad_accum}
    args = ["--task", "qa", "--backbone", str(demo["model"]), "--docs", str(sub), "-o", str(out)]
    args += ["--val-docs", str(demo["qa"] / "docs" / "v5_top3" / "val.jsonl")]
    return args + [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]


def _two_processes(script: list[str], args: list[str], **env) -> subprocess.CompletedProcess:
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    launch += ["--main_process_port", str(_free_port())]
    return subprocess.run(
        [*launch, *script, *args], env=_env(**env), cwd=REPO, capture_output=True, text=True, timeout=600
    )


def _adapter(out):
    from safetensors.torch import load_file

    return load_file(out / "last" / "adapter_model.safetensors")


def _max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys() and len(a) > 0
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _record(out) -> tuple[dict, dict]:
    from harness.train.state import run_log_path

    return json.loads((out / "run.json").read_text()), json.loads(run_log_path(out).read_text())


@pytest.fixture(scope="module")
def runs(demo, tmp_path_factory):
    """One process (grad_accum 2), two processes (grad_accum 1), and two processes killed and resumed."""
    tmp = tmp_path_factory.mktemp("ddp")
    one, two, killed = tmp / "one", tmp / "two", tmp / "killed"
    single = subprocess.run(
        [sys.executable, "-m", "harness.train", *_args(demo, tmp, one, grad_accum=2)],
        env=_env(), cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    double = _two_processes(["-m", "harness.train"], _args(demo, tmp, two, grad_accum=1))
    assert double.returncode == 0, double.stderr[-3000:]
    child = tmp / "killing_child.py"
    child.write_text(KILLING_TRAINER)
    dead = _two_processes([str(child)], _args(demo, tmp, killed, grad_accum=1), KILL_AT_STEP="7")
    assert dead.returncode != 0, dead.stdout[-2000:]
    stopped = json.loads((killed / "run.json").read_text())
    resumed = _two_processes(["-m", "harness.train"], _args(demo, tmp, killed, grad_accum=1))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return {"one": one, "two": two, "killed": killed, "stopped": stopped}


def test_two_processes_train_the_adapter_of_one_process_with_the_same_global_batch(runs):
    (one, one_log), (two, two_log) = _record(runs["one"]), _record(runs["two"])
    # really two processes (the launcher could have started one), each on half of every step's batches
    assert (one_log["hardware"]["processes"], two_log["hardware"]["processes"]) == (1, 2)
    assert one["total_steps"] == two["total_steps"] == 8
    assert one["status"] == two["status"] == "success"
    assert len(one["step_losses"]) == len(two["step_losses"]) == 8
    # the step loss is the token mean over the whole step on all processes, as one process computes it
    assert max(abs(a - b) for a, b in zip(one["step_losses"], two["step_losses"])) <= TOLERANCE
    assert _max_difference(_adapter(runs["one"]), _adapter(runs["two"])) <= TOLERANCE
    # validation splits the docs over the processes and sums their counts
    assert [h["val_n"] for h in one["history"]] == [h["val_n"] for h in two["history"]] == [4, 4]


def test_a_killed_two_process_run_resumes_to_the_uninterrupted_one(runs):
    assert runs["stopped"]["status"] == "running"  # killed, not finished
    (resumed, _), (straight, _) = _record(runs["killed"]), _record(runs["two"])
    assert resumed["status"] == "success"
    assert resumed["resumed_from"]["step"] == 6  # the last checkpoint before the kill in step 7
    assert max(abs(a - b) for a, b in zip(resumed["step_losses"], straight["step_losses"])) <= 1e-6
    assert _max_difference(_adapter(runs["killed"]), _adapter(runs["two"])) <= 1e-6
