"""The encoder-based baseline: the same LLM fed by a learned motion encoder instead of the SMD.

A motion's 263-d HumanML3D features go through an encoder (MotionGPT3's MLD VAE encoder, `mld_vae`, or
a small one trained from scratch, `small`) to one latent per clip; a projector turns it into
`n_tokens` embeddings of the LLM's width, which stand where the SMD stands in the prompt
(`prefix_lm`: the docs carry a `<motion:ID>` marker in place of the SMD text; the features come from
the dataset's joints, `features`).
"""
