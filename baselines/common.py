"""Key maps and component builders several baselines share."""
from __future__ import annotations

from asgbench.encoders.config import Component, KeyMap
from asgbench.encoders.heads import mgca_heads_from_tensors
from asgbench.encoders.text import Projection, Scalar, bert_from_tensors, module_like

RESNET_TAPS = ("stem", "layer1", "layer2", "layer3", "layer4")
RESNET_TAPS_TO_LAYER3 = ("stem", "layer1", "layer2", "layer3")
VIT_TAPS = ("block2", "block5", "block8", "block11")
# an unnamed nn.Sequential of torchvision's children (conv1, bn1, relu, maxpool, layer1..layer4)
SEQUENTIAL_RESNET = ((r"^0\.", "conv1."), (r"^1\.", "bn1."), (r"^4\.", "layer1."), (r"^5\.", "layer2."),
                     (r"^6\.", "layer3."), (r"^7\.", "layer4."))
POSITION_IDS = r"embeddings\.position_ids$"
ZERO_SHOT = ("zero-shot",)


def backbone(container: tuple[str, ...], prefix: str, **keys) -> Component:
    return Component("backbone", KeyMap(container=container, prefix=prefix, **keys))


def bert(container: tuple[str, ...], prefix: str, name: str = "text", **keys) -> Component:
    """A BERT text tower (position_ids buffers of older transformers dropped), needed for zero-shot."""
    drop = (POSITION_IDS,) + tuple(keys.pop("drop", ()))
    return Component(name, KeyMap(container=container, prefix=prefix, drop=drop, **keys), required=False,
                     enables=ZERO_SHOT, build=bert_from_tensors)


def linear(container: tuple[str, ...], prefix: str, name: str, bias: bool) -> Component:
    return Component(name, KeyMap(container=container, prefix=prefix), required=False, enables=ZERO_SHOT,
                     build=lambda t: Projection(tuple(t["weight"].shape), bias))


def mgca_head(container: tuple[str, ...], prefix: str, name: str) -> Component:
    return Component(name, KeyMap(container=container, prefix=prefix), required=False, enables=ZERO_SHOT,
                     build=mgca_heads_from_tensors)


def parameters(container: tuple[str, ...], prefix: str, name: str, **keys) -> Component:
    """Tensors kept as named parameters for a model-specific zero-shot scorer (query decoders, MLPs)."""
    return Component(name, KeyMap(container=container, prefix=prefix, **keys), required=False, enables=ZERO_SHOT,
                     build=module_like)


def logit_scale(container: tuple[str, ...], prefix: str = "") -> Component:
    return Component("logit_scale", KeyMap(container=container, prefix=prefix, include=r"^logit_scale$"), required=False,
                     enables=ZERO_SHOT, build=lambda t: Scalar())
