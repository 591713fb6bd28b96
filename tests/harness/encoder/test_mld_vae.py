"""The MLD VAE encoder has the published checkpoint's keys and shapes, and loads it strictly."""

import pytest

torch = pytest.importorskip("torch")

from harness.models.encoder import LATENT_SCALE, MldVaeEncoder, load_mld_encoder_state  # noqa: E402


def _published_encoder_keys() -> dict[str, tuple[int, ...]]:
    """The `vae.*` encoder tensors of `1222_mld_humanml3d_FID041.ckpt` as MotionGPT3's and MLD's
    `MldVae` define them (nfeats 263, latent [1, 256], ff 1024, 9 layers, 4 heads, learned positions of
    500): written out from those facts, not from our module."""
    keys = {
        "global_motion_token": (2, 256),
        "skel_embedding.weight": (256, 263),
        "skel_embedding.bias": (256,),
        "query_pos_encoder.pe": (500, 1, 256),
        "encoder.norm.weight": (256,),
        "encoder.norm.bias": (256,),
    }
    layer = {
        "self_attn.in_proj_weight": (768, 256), "self_attn.in_proj_bias": (768,),
        "self_attn.out_proj.weight": (256, 256), "self_attn.out_proj.bias": (256,),
        "linear1.weight": (1024, 256), "linear1.bias": (1024,),
        "linear2.weight": (256, 1024), "linear2.bias": (256,),
        "norm1.weight": (256,), "norm1.bias": (256,), "norm2.weight": (256,), "norm2.bias": (256,),
    }  # fmt: skip
    blocks = (
        [f"input_blocks.{i}" for i in range(4)] + ["middle_block"] + [f"output_blocks.{i}" for i in range(4)]
    )
    for block in blocks:
        keys |= {f"encoder.{block}.{k}": shape for k, shape in layer.items()}
    for i in range(4):
        keys |= {f"encoder.linear_blocks.{i}.weight": (256, 512), f"encoder.linear_blocks.{i}.bias": (256,)}
    return {f"vae.{k}": v for k, v in keys.items()}


def test_the_encoder_has_the_published_keys_and_shapes():
    published = _published_encoder_keys()
    assert len(published) == 122
    ours = {f"vae.{k}": tuple(v.shape) for k, v in MldVaeEncoder().state_dict().items()}
    assert ours == published
    assert sum(torch.Size(s).numel() for s in published.values()) == 7_829_760


def _checkpoint(tmp_path, state: dict, **wrap):
    """A Lightning-style file: `state_dict` holding the encoder, a decoder tensor and another module's."""
    full = {f"vae.{k}": v for k, v in state.items()}
    full |= {"vae.decoder.norm.weight": torch.ones(256), "vae.final_layer.bias": torch.zeros(263)}
    full |= {"denoiser.x": torch.zeros(3)}
    path = tmp_path / "mld.ckpt"
    torch.save({"state_dict": full, "epoch": 5, **wrap}, path)
    return path


def test_a_saved_checkpoint_round_trips_strictly_with_weights_only(tmp_path):
    torch.manual_seed(0)
    source = MldVaeEncoder().eval()
    path = _checkpoint(tmp_path, source.state_dict())
    loaded = MldVaeEncoder().eval()
    loaded.load_state_dict(load_mld_encoder_state(path), strict=True)  # decoder and other keys left out
    features, lengths = torch.randn(2, 30, 263), torch.tensor([30, 17])
    with torch.no_grad():
        out = loaded(features, lengths)
        assert torch.equal(out, source(features, lengths)) and out.shape == (2, 256)
        # padding is ignored: the shorter clip alone gives the same latent
        alone = loaded(features[1:, :17], lengths[1:])
    torch.testing.assert_close(out[1:], alone, atol=1e-5, rtol=1e-5)
    assert LATENT_SCALE == 0.8457


class Config:
    """Stands for the configs a Lightning file pickles (OmegaConf, a data module's arguments)."""


def test_a_checkpoint_that_pickles_more_than_tensors_is_refused_with_what_to_do(tmp_path):
    path = _checkpoint(tmp_path, MldVaeEncoder().state_dict(), hyper_parameters=Config())
    with pytest.raises(ValueError, match="weights_only=True.*plain dict"):
        load_mld_encoder_state(path)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {"denoiser.x": torch.zeros(1)}}, other)
    with pytest.raises(ValueError, match="no `vae.` tensors"):
        load_mld_encoder_state(other)


def test_longer_clips_than_the_position_table_are_refused():
    with pytest.raises(ValueError, match="at most 498"):
        MldVaeEncoder()(torch.zeros(1, 499, 263), torch.tensor([499]))
