"""open_clip towers: CLIP image encoders as backbones, and CLIP text towers built to fit a checkpoint.

The image side keeps open_clip's own module (``visual``: its VisionTransformer for OpenAI-layout CLIP, its
TimmModel adapter for hf-hub models such as BiomedCLIP), so OpenAI-layout state dicts (``visual.*``) load
strictly. The global feature is the pooled token before the projection (CLIP's linear-probe feature);
``project`` applies the tower's own projection for zero-shot. open_clip is imported only when a tower is
built (it is an optional dependency: ``pip install open_clip_torch``).
"""
from __future__ import annotations

import torch
from torch import nn

from asgbench.errors import MissingDependencyError


def _open_clip():
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("this model needs open_clip (pip install open_clip_torch)") from exc
    return open_clip


def model_config(model_name: str | None, model_cfg: dict | None) -> dict:
    """``model_cfg`` as given (an hf-hub folder's ``open_clip_config.json``), else open_clip's bundled config."""
    if model_cfg is not None:
        return model_cfg
    config = _open_clip().get_model_config(model_name)
    if config is None:
        raise KeyError(f"open_clip has no model config {model_name!r}")
    return config


class OpenCLIPVisual(nn.Module):
    """open_clip's image tower under ``visual``; features from its blocks, pooled token, projection."""

    def __init__(self, model_name: str | None = None, model_cfg: dict | None = None,
                 taps: tuple[int, ...] = (2, 5, 8, 11)) -> None:
        super().__init__()
        from open_clip.model import _build_vision_tower

        _open_clip()
        cfg = model_config(model_name, model_cfg)
        self.visual = _build_vision_tower(cfg["embed_dim"], cfg["vision_cfg"], quick_gelu=cfg.get("quick_gelu", False))
        self.tap_blocks = tuple(taps)
        self.timm = hasattr(self.visual, "trunk")
        self.feature_dim = self.visual.trunk.num_features if self.timm else self.visual.transformer.width
        self.channels = {f"block{i}": self.feature_dim for i in taps}

    def forward(self, x: torch.Tensor):
        from asgbench.encoders.backbones import Features

        v = self.visual
        if self.timm:   # timm trunk: final tokens after its norm, pooled by its head (CLS for ViT)
            final, intermediates = v.trunk.forward_intermediates(x, indices=list(self.tap_blocks), output_fmt="NCHW")
            pooled = v.trunk.forward_head(final, pre_logits=True)
            tokens = final[:, v.trunk.num_prefix_tokens:]
        else:           # open_clip VisionTransformer: ln_post then CLS pooling, as its forward does
            h, intermediates = v.transformer.forward_intermediates(v._embeds(x), indices=list(self.tap_blocks))
            pooled, tokens = v._pool(h)
            rows, cols = x.shape[2] // v.patch_size[0], x.shape[3] // v.patch_size[1]
            intermediates = [y[:, 1:].reshape(y.shape[0], rows, cols, -1).permute(0, 3, 1, 2) for y in intermediates]
        grid = tuple(intermediates[-1].shape[-2:]) if intermediates else (0, 0)
        maps = {f"block{i}": m for i, m in zip(self.tap_blocks, intermediates)}
        return Features(pooled, tokens, grid, maps)

    def project(self, pooled: torch.Tensor) -> torch.Tensor:
        """The tower's projection into the joint space (unnormalised), as its ``forward`` ends."""
        if self.timm:
            return self.visual.head(pooled)
        return pooled @ self.visual.proj if self.visual.proj is not None else pooled


def clip_text_tower(model_name: str) -> nn.Module:
    """An open_clip CLIP (OpenAI layout) without its image tower: ``encode_text`` and ``logit_scale`` remain."""
    open_clip = _open_clip()
    model = open_clip.create_model(model_name, pretrained=None)
    del model.visual
    return model


def hf_text_tower(tensors: dict[str, torch.Tensor], text_cfg: dict, embed_dim: int) -> nn.Module:
    """open_clip's HFTextEncoder for a BERT whose size is read from ``tensors`` (keys without ``text.``).

    open_clip sizes the BERT from the hub (``AutoConfig.from_pretrained``); offline the config comes from the
    tensors' shapes instead, and the pooler is kept only when the file has one (open_clip creates it only
    for ``cls_pooler``).
    """
    from open_clip.hf_model import HFTextEncoder

    from asgbench.encoders.text import bert_config_from_tensors

    _open_clip()
    bert = {k[len("transformer."):]: v for k, v in tensors.items() if k.startswith("transformer.")}
    config = bert_config_from_tensors(bert)
    tower = HFTextEncoder(text_cfg.get("hf_model_name", "bert"), output_dim=embed_dim, config=config,
                          pooler_type=text_cfg.get("hf_pooler_type"), proj_type=text_cfg.get("hf_proj_type"))
    if not any(k.startswith("pooler.") for k in bert):
        tower.transformer.pooler = None
    return tower
