"""MedKLIP (Wu et al., ICCV 2023): ``checkpoint_final.pth`` holding a DataParallel state dict under ``model``."""
from asgbench.encoders.config import IMAGENET_MEAN, IMAGENET_STD, EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS_TO_LAYER3, SEQUENTIAL_RESNET, backbone, parameters

MEDKLIP = EncoderConfig(
    name="medklip", order=90, architecture="resnet50", backbone_options={"stop_after": "layer3"},
    input=InputSpec(224, IMAGENET_MEAN, IMAGENET_STD, crop=False),
    feature="ResNet-50 layer3 global average pool (the released network ends at layer3)", feature_dim=1024,
    taps=RESNET_TAPS_TO_LAYER3,
    components=(
        backbone(("model",), "module.res_features.", renames=SEQUENTIAL_RESNET),
        parameters(("model",), "module.", "query_decoder", include=r"^(?!res_features\.)"),
    ),
    zero_shot="medklip", text_tower="none stored; entity queries come from Bio_ClinicalBERT at zero-shot time",
    tokenizer="Bio_ClinicalBERT",  # the whole BERT (config, weights, vocab): the scorer embeds the entity descriptions with it
    file_name="checkpoint_final.pth",
    paper="MedKLIP: Medical Knowledge Enhanced Language-Image Pre-Training (Wu et al., ICCV 2023)",
    license="MIT", source="the Google Drive / Baidu links in MedKLIP's checkpoints/README.md (github.com/MediaBrain-SJTU/MedKLIP)",
    notes="upstream fine-tuning adds a randomly initialised layer4; a frozen probe reads layer3 instead",
)
