"""Typed configuration read from `params.yaml`: the one reader every command uses.

`load_params` reads the file once (safe_load) into a `Params`; each command passes that object
down, so one run never sees two versions of the file. `typed_from_mapping` builds a frozen
dataclass from a section key by key: an unknown key, a wrong type or a value outside a `Literal` is
an error that names the key (`train.lr`, `backbones.tiny.train.epochs`), never silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .files import read_yaml

__all__ = ["Params", "checked_fields", "load_params", "parse_overrides", "read_params", "typed_from_mapping"]


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """`value` checked against a type hint (the subset configs use); raises ValueError naming `where`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    if origin is tuple:
        if isinstance(value, str):  # one regex or one module name
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        # YAML 1.1 reads `1e-4` (no dot) as a string: accept any number written as text
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported type {hint!r}")


def checked_fields(cls: type, mapping: Any, where: str) -> dict[str, Any]:
    """`mapping`'s values coerced to the types of dataclass `cls`'s fields; an unknown key or a wrong
    type raises ValueError naming `where.key`. Missing keys are fine (the caller merges layers)."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in mapping.items()}


def typed_from_mapping(cls: type, mapping: dict, where: str, **fixed: Any):
    """An instance of dataclass `cls` from a mapping: unknown keys and wrong types raise ValueError."""
    return cls(**{**checked_fields(cls, mapping, where), **fixed})


def read_params(path: Path | str) -> dict:
    """`params.yaml` as a mapping (safe_load); a missing or malformed file raises a clear error."""
    data = read_yaml(path, "params file") or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """`["lr=2e-4", "epochs=1"]` -> `{"lr": 0.0002, "epochs": 1}` (values parsed as YAML scalars)."""
    out = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return out


@dataclass(frozen=True)
class Params:
    """`params.yaml`, read once: its top-level sections, and the folder its relative paths start from.

    Attributes:
        data: the file's mapping (section name -> section).
        folder: the params file's folder (`./models/tiny` in a backbone entry is relative to it).
        path: the file read, None for a mapping built in code.
    """

    data: Mapping[str, Any]
    folder: Path
    path: Path | None = None

    def section(self, name: str) -> dict:
        """The section `name` ({} when absent); raises ValueError when it is not a mapping."""
        value = self.data.get(name) or {}
        if not isinstance(value, dict):
            raise ValueError(f"{self.path or 'params'}: `{name}` must be a mapping")
        return value


def load_params(params: Params | Path | str | Mapping | None, default: Path | None = None) -> Params:
    """A `Params` from a params file (read here, once), a mapping, or an already loaded `Params`.

    None reads `default` when given and present, else gives empty params (every section's defaults).
    """
    if isinstance(params, Params):
        return params
    if isinstance(params, Mapping):
        return Params(dict(params), Path.cwd())
    if params is None:
        if default is None or not default.is_file():
            return Params({}, Path.cwd())
        params = default
    path = Path(params)
    return Params(read_params(path), path.parent, path)
