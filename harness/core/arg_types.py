"""argparse types shared by the stages' command lines: each names what it expects in its error."""

from __future__ import annotations

import argparse
import json

__all__ = ["batch_size", "json_object", "positive_int"]


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def json_object(text: str) -> dict:
    def not_json(name: str):  # NaN / Infinity would fail the strict-JSON provenance after the run
        raise ValueError(f"{name} is not JSON")

    try:
        value = json.loads(text, parse_constant=not_json)
    except ValueError as e:  # JSONDecodeError is a ValueError
        raise argparse.ArgumentTypeError(f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def batch_size(text: str) -> int | str:
    return text if text == "auto" or text.startswith("auto:") else positive_int(text)
