#!/usr/bin/env bash
# The GPU check (benchmarks/gpu_check.py): training tokens/s of the paper's setting vs ours, peak memory,
# projected GPU-hours against the paper's 7 + 20, lm-eval `_mc` questions/s; one table.
#
#   bash benchmarks/gpu_check.sh          # one CUDA GPU, at most ~8 minutes, no internet
#   bash benchmarks/gpu_check.sh --dry    # CPU, tiny model, ~1 minute: CI runs it
#
# On a GPU machine without this project's packages and without internet, put their wheels in .whl/
# (`pip download --no-deps --only-binary=:all: -d .whl ...` where pip works): they are installed into
# /tmp/site first. With $OUT set, the table also goes to $OUT/gpu_check.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
out=()
if [ -n "${OUT:-}" ]; then out=(--output "$OUT/gpu_check.md"); fi
exec timeout 480 python3 benchmarks/gpu_check.py "${out[@]}" "$@"
