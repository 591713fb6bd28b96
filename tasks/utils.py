# lm-eval loads this file by path (`!function utils.name`); the functions live in the installed
# `harness` package so that every task shares one module state, and its `__all__` names exactly what
# the task YAMLs call (a test checks that every `!function utils.NAME` resolves).
from harness.evaluate.tasks import *  # noqa: F403
