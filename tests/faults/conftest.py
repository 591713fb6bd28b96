"""A small demo benchmark, built once, that each fault test copies and breaks in its own way."""

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Path:
    from harness.demo.generate import generate_demo

    root = tmp_path_factory.mktemp("pristine")
    generate_demo(root, n_motions=12, seed=1)
    return root


@pytest.fixture
def dataset(pristine, tmp_path):
    """`dataset("humanml3d")` / `dataset("babel_qa")`: a fresh copy of one demo dataset to break."""

    made: list[Path] = []

    def copy(name: str) -> Path:
        target = tmp_path / f"{len(made)}" / name
        shutil.copytree(pristine / name, target)
        made.append(target)
        return target

    return copy
