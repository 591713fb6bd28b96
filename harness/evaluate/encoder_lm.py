"""lm-eval's model `smd-encoder`: the `hf` model with a motion encoder in front (`MotionPrefixLM`).

    lm_eval --model smd-encoder --model_args pretrained=models/tiny,peft=RUN/best,encoder=RUN/best,\\
        data_root=data/demo/babel_qa --tasks smd_babel_qa_mc --metadata '{"smd_variant": "motion", ...}'

(`smd lm-eval` is lm-eval's own CLI with this model registered; `smd evaluate --encoder` and
`simple_evaluate` after importing this module work the same way.) Everything is lm-eval's HFLM: prompt
rendering, batching, log-likelihoods, generation, stop sequences. Only the model it calls changes:
after HFLM has loaded the backbone (and the LoRA adapter, `peft=`), the backbone is wrapped so that the
`<motion:ID>` marker the `motion` docs carry where the SMD stands becomes the encoder's soft tokens.
`data_root` is the dataset whose joints the clips come from (its layout and frame rate from the registry).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM

from harness.models.encoder import MotionPrefixLM, clip_features, dataset_of_root, load_encoder

from .lm_eval_io import ENCODER_MODEL

__all__ = ["EncoderLM"]


@register_model(ENCODER_MODEL)
class EncoderLM(HFLM):
    def __init__(self, pretrained: str, encoder: str, data_root: str, **kwargs) -> None:
        super().__init__(pretrained=pretrained, **kwargs)
        root = Path(data_root)
        dataset = dataset_of_root(root)
        _, motion_encoder, projector, mean, std = load_encoder(encoder)
        features = lru_cache(maxsize=None)(lambda clip: clip_features(root, dataset, clip))
        composite = MotionPrefixLM(
            self._model, self.tokenizer, motion_encoder, projector, features, mean, std
        )
        # the encoder side only: the backbone stays where HFLM put it (one device, or sharded by parallelize)
        device = next(self._model.parameters()).device
        composite.encoder.to(device), composite.projector.to(device)
        composite.feature_mean = composite.feature_mean.to(device)
        composite.feature_std = composite.feature_std.to(device)
        self._model = composite.eval()
