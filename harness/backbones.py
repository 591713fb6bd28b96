"""The backbone registry: named LLMs (`params.yaml` `backbones:`) -> where to load them and how.

Each entry gives the hub id or local folder, the dtype to load in, chat-template quirks passed to
`tokenizer.apply_chat_template` (Qwen3's `enable_thinking: false`), `trust_remote_code` (only GLM-4
needs it) and, where the module names differ from Llama's, the LoRA target modules. A name that is
not in the registry is taken as a local folder or hub id, with default settings.

    path, kwargs = resolve("qwen2.5-7b")   # ("Qwen/Qwen2.5-7B-Instruct", {"dtype": "bfloat16", ...})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .training.config import read_params, typed_from_mapping

DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"
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
        dtype: weights dtype when loading for a GPU (`auto` keeps the checkpoint's); CPU runs use float32.
        trust_remote_code: run the repository's own modelling code (GLM-4 only).
        chat_template_kwargs: extra keyword arguments for `apply_chat_template`.
        lora_target_modules: LoRA targets for this architecture (None: the training config's).
        modules_to_save: modules trained in full next to LoRA (the training config's win when set).
        context_length: context limit in tokens when the config does not say it (None: from the config).
        eval_batch_size: lm-eval's batch size in the pipeline's evaluations (a small model on CPU gains
            from batching; results do not depend on it beyond float rounding).
        train: `train:` settings this backbone needs instead of the section's (e.g. the randomly
            initialised tiny backbone's higher learning rate); `--set` overrides still win.
        notes: free text.
    """

    name: str
    path: str
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    trust_remote_code: bool = False
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    lora_target_modules: tuple[str, ...] | None = None
    modules_to_save: tuple[str, ...] = ()
    context_length: int | None = None
    eval_batch_size: int = 1
    train: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def kwargs(self) -> dict[str, Any]:
        """The loading and templating settings, as `resolve` returns them."""
        return {
            "dtype": self.dtype,
            "trust_remote_code": self.trust_remote_code,
            "chat_template_kwargs": dict(self.chat_template_kwargs),
            "lora_target_modules": self.lora_target_modules,
            "modules_to_save": self.modules_to_save,
            "context_length": self.context_length,
        }


def load_registry(params: Path | str | dict | None = None) -> dict[str, Backbone]:
    """Every named backbone of a params file (default: the repository's `params.yaml`).

    Raises:
        ValueError: an entry with an unknown key or a wrong type (the message names entry and key).
    """
    base = Path(params).parent if isinstance(params, (str, Path)) else DEFAULT_PARAMS.parent
    data = params if isinstance(params, dict) else read_params(params or DEFAULT_PARAMS)
    section = data.get("backbones") or {}
    if not isinstance(section, dict):
        raise ValueError("params: `backbones` must be a mapping of name -> entry")
    registry = {}
    for name, entry in section.items():
        backbone = typed_from_mapping(Backbone, entry, f"backbones.{name}", name=str(name))
        if "path" not in entry:
            raise ValueError(f"backbones.{name}: `path` is required")
        local = base / backbone.path
        if not Path(backbone.path).is_absolute() and (backbone.path.startswith(".") or local.exists()):
            backbone = Backbone(**{**backbone.__dict__, "path": str(local)})
        registry[str(name)] = backbone
    return registry


def get_backbone(name_or_path: str, params: Path | str | dict | None = None) -> Backbone:
    """The registry entry called `name_or_path`, else an entry for that folder or hub id.

    Raises:
        FileNotFoundError: a path-like name (absolute, `./`, `../`, `~`) that does not exist, or a
            registry entry whose local folder is missing.
    """
    registry = load_registry(params) if params is not None or DEFAULT_PARAMS.is_file() else {}
    if name_or_path in registry:
        backbone = registry[name_or_path]
        if _looks_local(backbone.path) and not Path(backbone.path).expanduser().exists():
            raise FileNotFoundError(
                f"backbone {name_or_path!r}: folder {backbone.path} does not exist"
                + (f" (build it: {BUILD_COMMANDS[name_or_path]})" if name_or_path in BUILD_COMMANDS else "")
            )
        return backbone
    path = Path(name_or_path).expanduser()
    if path.exists():
        return Backbone(name=name_or_path, path=str(path), dtype="auto")
    if _looks_local(name_or_path) or name_or_path.count("/") != 1:
        names = ", ".join(sorted(registry)) or "none"
        raise FileNotFoundError(
            f"backbone {name_or_path!r} is neither a registered name ({names})"
            " nor an existing folder nor a hub id (owner/name)"
        )
    return Backbone(name=name_or_path, path=name_or_path, dtype="auto")  # a hub id


def resolve(name_or_path: str, params: Path | str | dict | None = None) -> tuple[str, dict[str, Any]]:
    """`(path, kwargs)` for a backbone name, folder or hub id; see `Backbone.kwargs` for the keys."""
    backbone = get_backbone(name_or_path, params)
    return backbone.path, backbone.kwargs()


def _looks_local(path: str) -> bool:
    return path.startswith(("/", "./", "../", "~")) or Path(path).is_absolute()
