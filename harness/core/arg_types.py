"""argparse pieces shared by the stages' command lines: types that name what they expect in their
error, and the one spelling of the options every command shares (`--variant`, `-o/--output`) with the
old spellings kept as deprecated aliases."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = [
    "OUTPUT_OPTION",
    "VARIANT_OPTION",
    "add_renamed_option",
    "batch_size",
    "json_object",
    "positional_output",
    "positive_int",
]

# One output-flag convention and one name per idea (an SMD variant: v5, v5_top3, ...) for every command.
OUTPUT_OPTION = ("-o", "--output")
VARIANT_OPTION = "--variant"


class _StoreNamingOldSpellings(argparse.Action):
    """argparse's `store`, which also answers to deprecated spellings and says so in one stderr line."""

    def __init__(self, option_strings, dest, old=(), **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.old = tuple(old)

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in self.old:
            new = max(self.option_strings, key=len)
            print(f"{parser.prog}: warning: {option_string} is deprecated, use {new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_renamed_option(parser, *names: str, old: tuple[str, ...], **kwargs) -> argparse.Action:
    """`parser.add_argument(*names, **kwargs)` (a stored value), also reachable by the `old` spellings.

    One action serves both spellings, so `required=True`, `nargs`, `type` and `choices` hold for either;
    the old ones are then struck from the action's names, so the help and the usage show only the new
    ones, while the parser's option table still finds the old ones.
    """
    action = parser.add_argument(*names, *old, action=_StoreNamingOldSpellings, old=old, **kwargs)
    action.option_strings = [s for s in action.option_strings if s not in old]
    return action


def positional_output(parser: argparse.ArgumentParser, args: argparse.Namespace, old: str = "out") -> None:
    """Resolve `-o/--output` against a deprecated positional output argument `old` (`nargs="?"`,
    `help=argparse.SUPPRESS`): one of them is required, the positional says it is deprecated."""
    legacy = getattr(args, old)
    if legacy is not None:
        if args.output is not None:
            parser.error(f"give the output once: -o {args.output} (the positional {legacy} is its old form)")
        print(f"{parser.prog}: warning: a positional output is deprecated, use -o {legacy}", file=sys.stderr)
        args.output = legacy
    if args.output is None:
        parser.error("the following arguments are required: -o/--output")
    delattr(args, old)


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
