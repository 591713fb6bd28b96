"""The backbone registry: named LLMs (`params.yaml` `backbones:`) -> where to load them and how.

Each entry gives the hub id or local folder, the dtype to load in, chat-template quirks passed to
`tokenizer.apply_chat_template` (Qwen3's `enable_thinking: false`), `trust_remote_code` (only GLM-4
needs it) and the `train:` settings it needs instead of the section's (the LoRA target modules where
the module names differ from Llama's, the tiny backbone's learning rate). A name that is not in the
registry is taken as a local folder or hub id, with default settings.

One precedence rule holds for every training key, lowest first: `train:`, `train.<task>:`,
`backbones.<name>.train:`, `backbones.<name>.train.<task>:`, then `--set`. A backbone's `train:` is
checked as strictly as `train:` itself when a run merges it (an unknown key or a wrong type names
`backbones.<name>.train.<key>`).

    path, kwargs = resolve("qwen2.5-7b")   # ("Qwen/Qwen2.5-7B-Instruct", {"dtype": "bfloat16", ...})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.core import Params, load_params, typed_from_mapping

CHECKOUT_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def default_params() -> Path:
    """The params file read when none is named: `params.yaml` in the working directory (a project after
    a regular install, where the package sits in site-packages), else the checkout's."""
    here = Path.cwd() / "params.yaml"
    return here if here.is_file() else CHECKOUT_PARAMS


# how to build the registry's local folders (dvc.yaml runs these as stages)
BUILD_COMMANDS = {
    "tiny": "smd tiny-backbone models/tiny --docs ...",
    "smollm2-135m": "smd convert-gguf smollm2-135m models/smollm2-135m",
}


@dataclass(frozen=True)
class Backbone:
    """One registry entry.

    Attributes:
        name: registry name (or the path itself for an unregistered backbone).
        path: hub id or local folder; a relative folder is relative to the params file's folder.
        dtype: weights dtype when loading for a GPU (`auto` keeps the checkpoint's).
        cpu_dtype: weights dtype on a CPU: float32, or bfloat16 where the CPU computes it natively
            (AVX512-BF16 or AMX: smollm2-135m trains ~1.7x and scores ~1.7x faster here than in float32);
            training on a CPU uses bf16 autocast exactly when this is bfloat16.
        trust_remote_code: run the repository's own modelling code (GLM-4 only).
        chat_template_kwargs: extra keyword arguments for `apply_chat_template`.
        context_length: context limit in tokens when the config does not say it (None: from the config).
        eval_batch_size: lm-eval's batch size in the pipeline's evaluations (a small model on CPU gains
            from batching; results do not depend on it beyond float rounding).
        train: `train:` settings this backbone needs instead of the section's, with optional `qa:` and
            `caption:` sub-sections (e.g. the randomly initialised tiny backbone's higher learning rate,
            GLM-4's fused-projection LoRA targets); `--set` overrides still win.
        notes: free text.
    """

    name: str
    path: str
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    cpu_dtype: Literal["bfloat16", "float32"] = "float32"
    trust_remote_code: bool = False
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    context_length: int | None = None
    eval_batch_size: int = 1
    train: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def kwargs(self) -> dict[str, Any]:
        """The loading and templating settings, as `resolve` returns them."""
        return {
            "dtype": self.dtype,
            "cpu_dtype": self.cpu_dtype,
            "trust_remote_code": self.trust_remote_code,
            "chat_template_kwargs": dict(self.chat_template_kwargs),
            "context_length": self.context_length,
        }


def load_registry(params: Params | Path | str | dict | None = None) -> dict[str, Backbone]:
    """Every named backbone of a params file (default: the repository's `params.yaml`).

    Raises:
        ValueError: an entry with an unknown key or a wrong type (the message names entry and key).
    """
    loaded = load_params(params, default_params())
    registry = {}
    for name, entry in loaded.section("backbones").items():
        if not isinstance(entry, dict) or "path" not in entry:
            raise ValueError(f"backbones.{name}: an entry is a mapping with a `path`")
        backbone = typed_from_mapping(Backbone, entry, f"backbones.{name}", name=str(name))
        local = loaded.folder / backbone.path
        if not Path(backbone.path).is_absolute() and (backbone.path.startswith(".") or local.exists()):
            backbone = Backbone(**{**backbone.__dict__, "path": str(local)})
        registry[str(name)] = backbone
    return registry


def get_backbone(name_or_path: str, params: Params | Path | str | dict | None = None) -> Backbone:
    """The registry entry called `name_or_path`, else an entry for that folder or hub id.

    Raises:
        FileNotFoundError: a path-like name (absolute, `./`, `../`, `~`) that does not exist, or a
            registry entry whose local folder is missing.
        ValueError: a local folder with a `.safetensors` file that does not open (`check_weights`).
    """
    registry = load_registry(params)
    if name_or_path in registry:
        backbone = registry[name_or_path]
        if _looks_local(backbone.path) and not Path(backbone.path).expanduser().exists():
            raise FileNotFoundError(
                f"backbone {name_or_path!r}: folder {backbone.path} does not exist"
                + (f" (build it: {BUILD_COMMANDS[name_or_path]})" if name_or_path in BUILD_COMMANDS else "")
            )
        check_weights(backbone.path)
        return backbone
    path = Path(name_or_path).expanduser()
    if path.exists():
        check_weights(path)
        return Backbone(name=name_or_path, path=str(path), dtype="auto")
    if _looks_local(name_or_path) or name_or_path.count("/") != 1:
        names = ", ".join(sorted(registry)) or "none"
        raise FileNotFoundError(
            f"backbone {name_or_path!r} is neither a registered name ({names})"
            " nor an existing folder nor a hub id (owner/name)"
        )
    if path.parent.is_dir():  # `models/nope` where `models/` is a folder here: missing, not a hub id
        raise FileNotFoundError(
            f"backbone {name_or_path!r}: no such folder (not sent to the Hub: {path.parent}/ is local)"
        )
    return Backbone(name=name_or_path, path=name_or_path, dtype="auto")  # a hub id


def resolve(
    name_or_path: str, params: Params | Path | str | dict | None = None
) -> tuple[str, dict[str, Any]]:
    """`(path, kwargs)` for a backbone name, folder or hub id; see `Backbone.kwargs` for the keys."""
    backbone = get_backbone(name_or_path, params)
    return backbone.path, backbone.kwargs()


def check_weights(path: str | Path) -> None:
    """Every `.safetensors` file under a local model or adapter folder (or that file itself) opens:
    its header parses and its size matches the tensors it lists. A truncated download is then a
    one-line error naming the file before a model loads, not a SafetensorError from inside it.

    Raises:
        ValueError: the file and what safetensors found wrong with it.
    """
    from safetensors import SafetensorError, safe_open

    local = Path(path).expanduser()
    files = [local] if local.is_file() else sorted(local.rglob("*.safetensors")) if local.is_dir() else []
    for file in files:
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except (SafetensorError, OSError) as e:
            raise ValueError(
                f"{file}: not a readable safetensors file ({e}); download or build it again"
            ) from None


def _looks_local(path: str) -> bool:
    return path.startswith(("/", "./", "../", "~")) or Path(path).is_absolute()


def context_length(config, tokenizer, backbone: Backbone | None = None, max_length: int | None = None) -> int:
    """The context limit training and evaluation both hold a prompt to: `max_length` when set, then the
    backbone entry's `context_length`, then what lm-eval's HF backend resolves from the model config and
    tokenizer (`lm_eval.models.utils.resolve_max_length`, so a doc that trains is a doc lm-eval scores)."""
    if max_length:
        return int(max_length)
    if backbone is not None and backbone.context_length:
        return backbone.context_length
    from lm_eval.models.utils import resolve_max_length

    return int(resolve_max_length(config, tokenizer))
