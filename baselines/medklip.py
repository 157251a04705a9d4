"""MedKLIP (Wu et al., ICCV 2023): ``checkpoint_final.pth`` holding a DataParallel state dict under ``model``."""
from asgbench.encoders.config import IMAGENET_MEAN, IMAGENET_STD, EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS_TO_LAYER3, SEQUENTIAL_RESNET, backbone, parameters

# MedKLIP's test transform (Sample_zero-shot_Classification_CXR14/dataset/dataset.py:30, 41-45, 50): PIL image
# converted to RGB, transforms.Resize([224, 224]) (both sides: a non-square image is stretched; torchvision's default
# bilinear, PIL's antialiased resize), ToTensor, ImageNet Normalize. The fine-tuning sample does the same
# (Sample_Finetuning_SIIMACR/I1_classification/dataset/dataset_siim_acr.py:49-52).
MEDKLIP_INPUT = InputSpec(224, IMAGENET_MEAN, IMAGENET_STD, crop=False, geometry="stretch", antialias=True)

MEDKLIP = EncoderConfig(
    name="medklip", order=90, architecture="resnet50", backbone_options={"stop_after": "layer3"},
    input=MEDKLIP_INPUT,
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
