"""Reference points without medical pre-training: random initialisation and ImageNet weights."""
from asgbench.encoders.config import HALF, IMAGENET_MEAN, IMAGENET_STD, INIT, EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS, VIT_TAPS, backbone


# No authors' transform: MGCA/ASG's (letterbox 256, centre crop 224), the initialisations those models start from.
def _random(name: str, order: int, architecture: str, dim: int, taps: tuple[str, ...], **options) -> EncoderConfig:
    return EncoderConfig(
        name=name, order=order, group=INIT, architecture=architecture, backbone_options=options, input=InputSpec(224, HALF, HALF),
        feature="global feature of a randomly initialised network (seeded)", feature_dim=dim, taps=taps,
        components=(), paper="—", license="—", source="no weights: random initialisation",
    )


RANDOM_R50 = _random("random-r50", 10, "resnet50", 2048, RESNET_TAPS)
RANDOM_VIT = _random("random-vit", 30, "vit_base_patch16", 768, VIT_TAPS, pool="token")
RANDOM_R18 = _random("random-r18", 20, "resnet18", 512, RESNET_TAPS)
RANDOM_VIT_TINY = _random("random-vit-tiny", 40, "vit_tiny_patch16", 192, VIT_TAPS, pool="token")

IMAGENET_R50 = EncoderConfig(
    name="imagenet-r50", order=50, group=INIT, architecture="resnet50", input=InputSpec(224, IMAGENET_MEAN, IMAGENET_STD),
    feature="ResNet-50 layer4 global average pool", feature_dim=2048, taps=RESNET_TAPS,
    components=(backbone((), "", drop=(r"^fc\.",)),), file_name="resnet50-11ad3fa6.pth",
    paper="torchvision ResNet-50 IMAGENET1K_V2", license="BSD-3-Clause (torchvision)",
    source="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
)

IMAGENET_VIT = EncoderConfig(
    name="imagenet-vit", order=60, group=INIT, architecture="vit_base_patch16", backbone_options={"pool": "token"},
    input=InputSpec(224, IMAGENET_MEAN, IMAGENET_STD),
    feature="ViT-B/16 [CLS] token after the final LayerNorm", feature_dim=768, taps=VIT_TAPS,
    components=(backbone(("model",), "", drop=(r"^head\.",)),), file_name="deit_base_patch16_224-b5f2ef4d.pth",
    paper="DeiT-B/16 ImageNet-1k (the initialisation of MGCA and ASG)", license="Apache-2.0",
    source="https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth",
)
