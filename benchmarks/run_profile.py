"""Run a profile script (`profiles/*`) where `dvc exp run` cannot: on a machine without git, such as a
lent GPU that receives a copy of the working tree (benchmarks/gpu_check.sh runs it there).

    python benchmarks/run_profile.py profiles/smollm2-cloze --workdir /tmp/smd-profile -o OUT
    python benchmarks/run_profile.py profiles/tiny-cloze-long --workdir W -S demo.motions=24 -o OUT

1. The profile's `dvc exp run -S KEY=VALUE ... TARGETS` is recorded: the script runs with a stand-in
   `dvc` on PATH that writes its arguments down, so the profile script stays the one place that says
   what the profile sets and targets.
2. In `--workdir`, a DVC project without git (`dvc init --no-scm`) over a copy of the checkout's
   pipeline (code, dvc.yaml, params.yaml; no data, runs, models or dvc.lock), its params.yaml with the
   profile's overrides and then this command's own `-S` applied. Each key must already be in
   params.yaml, as `dvc exp run -S` requires of a key without `+`; values are read as YAML (`[a, b]`,
   `null`, `5.0e-4`), as DVC reads them.
3. `dvc repro TARGETS` there: the stages, commands and caching of the experiment, without git. Run it
   again with the same workdir to resume (finished stages are skipped, a training resumes from its
   checkpoints, an evaluation from its request cache).
4. With `-o OUT`: the profile's cells (results/, with their per-doc samples) as
   OUT/profile-cells.tar.gz and their Markdown table (`smd table`) as OUT/profile-table.md.

Needs `dvc` importable (`python -m dvc`); where no `smd` command is on PATH (a checkout run with
PYTHONPATH rather than installed), one that runs `python -m harness` is put there for the stages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# what the copy leaves out: git and DVC's own state, what the pipeline builds (the checkout's cells too:
# the workdir's results/ then holds the profile's cells alone), local environments
NOT_COPIED = frozenset(
    {".git", ".dvc", ".venv", ".whl", "data", "runs", "models", "results", "reports", "dvc.lock",
     ".pytest_cache", ".ruff_cache"}
)  # fmt: skip
CACHES = shutil.ignore_patterns("__pycache__")  # at any depth (`harness/data` is code, not `data`)
RECORDER = """#!{python}
import json, os, sys
with open(os.environ["PROFILE_DVC_CALLS"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


class ProfileError(Exception):
    """A profile that cannot run here: not one `dvc exp run` call, an unknown key, a failed stage."""


def record_exp_run(
    script: Path, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> tuple[dict, list[str]]:
    """The `dvc exp run` call a profile script makes (run with `args`, in the checkout, `env` added):
    ({key: YAML value}, targets), in its order.

    Raises:
        ProfileError: the script fails, makes another dvc call, or not exactly one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        bin_dir, log = Path(tmp) / "bin", Path(tmp) / "calls.jsonl"
        bin_dir.mkdir()
        (bin_dir / "dvc").write_text(RECORDER.format(python=sys.executable))
        (bin_dir / "dvc").chmod(0o755)
        run_env = {**os.environ, **(env or {}), "PROFILE_DVC_CALLS": str(log)}
        run_env["PATH"] = os.pathsep.join([str(bin_dir), run_env["PATH"]])
        done = subprocess.run(
            ["bash", str(script), *args], env=run_env, cwd=REPO, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise ProfileError(f"{script}: exited {done.returncode}: {done.stderr.strip()[-500:]}")
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
    if len(calls) != 1 or calls[0][:2] != ["exp", "run"]:
        raise ProfileError(f"{script}: expected one `dvc exp run` call, got {calls}")
    sets, targets, args = {}, [], iter(calls[0][2:])
    for arg in args:
        if arg in ("-S", "--set-param"):
            key, _, value = next(args).partition("=")
            sets[key] = yaml.safe_load(value)
        elif arg.startswith("-"):
            raise ProfileError(f"{script}: `dvc exp run {arg}` has no `dvc repro` equivalent here")
        else:
            targets.append(arg)
    return sets, targets


def apply_overrides(params: dict, sets: dict) -> dict:
    """A copy of `params` with each dotted key set; a key params does not have is an error."""
    out = json.loads(json.dumps(params))
    for key, value in sets.items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                raise ProfileError(f"-S {key}: params.yaml has no {part!r} there")
            node = node[part]
        if not isinstance(node, dict) or last not in node:
            raise ProfileError(f"-S {key}: params.yaml has no such key")
        node[last] = value
    return out


def prepare_workdir(workdir: Path, sets: dict) -> None:
    """The checkout's pipeline copied into `workdir` (kept when it is already there: a resumed run) as a
    DVC project without git, its params.yaml with `sets` applied."""
    if not (workdir / ".dvc").is_dir():
        workdir.mkdir(parents=True, exist_ok=True)
        for item in REPO.iterdir():
            if item.name in NOT_COPIED:
                continue
            if item.is_dir():
                shutil.copytree(item, workdir / item.name, ignore=CACHES)
            else:
                shutil.copy2(item, workdir / item.name)
        _dvc(workdir, "init", "--no-scm", "-q")
        _dvc(workdir, "config", "core.analytics", "false")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (workdir / "params.yaml").write_text(yaml.safe_dump(apply_overrides(params, sets), sort_keys=False))


def _dvc(workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=workdir, env=env)
    if done.returncode != 0:
        raise ProfileError(f"dvc {' '.join(args)} (in {workdir}) exited {done.returncode}")


def _stage_env(tmp: Path) -> dict[str, str]:
    """The stages' environment: offline, and an `smd` command where none is installed."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if shutil.which("smd") is None:
        (tmp / "smd").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m harness "$@"\n')
        (tmp / "smd").chmod(0o755)
        env["PATH"] = os.pathsep.join([str(tmp), env["PATH"]])
    return env


def _cell_files(results: Path) -> set[Path]:
    return {p.relative_to(results) for p in results.rglob("*") if p.is_file()} if results.is_dir() else set()


def run_profile(script: Path, workdir: Path, extra: dict, output: Path | None = None) -> list[Path]:
    """Record the profile's experiment, run it as `dvc repro` in `workdir`; its cells (every file under
    the workdir's results folder, this run's or a resumed one's), also packed into `output` with their
    table when given."""
    sets, targets = record_exp_run(script)
    prepare_workdir(workdir, {**sets, **extra})
    results_dir = workdir / yaml.safe_load((workdir / "params.yaml").read_text())["pipeline"]["results_dir"]
    with tempfile.TemporaryDirectory() as tmp:
        _dvc(workdir, "repro", *targets, env=_stage_env(Path(tmp)))
        written = sorted(_cell_files(results_dir))
        if output is not None:
            _pack(results_dir, written, output, env=_stage_env(Path(tmp)))
    return [results_dir / p for p in written]


def _pack(results_dir: Path, written: list[Path], output: Path, env: dict[str, str]) -> None:
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "results"
        for rel in written:
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(results_dir / rel, staged / rel)
        with tarfile.open(output / "profile-cells.tar.gz", "w:gz") as tar:
            tar.add(staged, arcname="results")
        table = [sys.executable, "-m", "harness", "table", "--results", str(staged)]
        table += ["-o", str(output / "profile-table.md")]
        if subprocess.run(table, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            raise ProfileError("smd table of the profile's cells failed")


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path, help="a profile script that makes one `dvc exp run` call")
    parser.add_argument("--workdir", type=Path, required=True, help="the git-less project (kept: resumes)")
    parser.add_argument(
        "-S", "--set-param", dest="sets", type=_override, action="append", default=[],
        help="KEY=VALUE applied after the profile's own (e.g. smaller sizes for a dry run)",
    )  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, help="write the cells (tar.gz) and their table here")
    args = parser.parse_args(argv)
    try:
        written = run_profile(args.profile, args.workdir, dict(args.sets), args.output)
    except ProfileError as e:
        print(f"run_profile: error: {e}", file=sys.stderr)
        return 1
    print(f"run_profile: {len(written)} result files written under {args.workdir}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
