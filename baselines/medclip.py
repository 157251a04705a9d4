"""MedCLIP (Wang et al., EMNLP 2022): zip releases holding a plain state dict ``pytorch_model.bin``."""
from asgbench.encoders.config import EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS, backbone, bert, linear, logit_scale

MEDCLIP_NORM = (0.5862785803043838,) * 3, (0.27950088968644304,) * 3
# MedCLIPFeatureExtractor (medclip/dataset.py:30-41 defaults, 107-118 steps, 134-141 pad_img): the grayscale image
# zero-padded to a centred square, resized to 224 with PIL BICUBIC, CenterCrop(224) (a no-op on the square), one-channel
# Normalize with IMG_MEAN / IMG_STD (medclip/constants.py:7-9), repeated to 3 channels (dataset.py:447).
MEDCLIP_INPUT = InputSpec(224, MEDCLIP_NORM[0], MEDCLIP_NORM[1], crop=False, filter="bicubic", antialias=True)
TEXT = "Bio_ClinicalBERT + linear projection to 512; mean of hidden states 1, 2 and last"
# transformers 4.2x Swin parameter names (the release) -> transformers 5 names
SWIN_4_TO_5 = (
    (r"^", "model."),
    (r"attention\.self\.query\.", "attention.q_proj."), (r"attention\.self\.key\.", "attention.k_proj."),
    (r"attention\.self\.value\.", "attention.v_proj."), (r"attention\.output\.dense\.", "attention.o_proj."),
    (r"attention\.self\.relative_position_bias_table", "attention.relative_position_bias.relative_position_bias_table"),
    (r"\.intermediate\.dense\.", ".mlp.fc1."), (r"\.output\.dense\.", ".mlp.fc2."),
)

MEDCLIP_R50 = EncoderConfig(
    name="medclip-r50", order=100, architecture="resnet50",
    input=MEDCLIP_INPUT,
    feature="ResNet-50 layer4 global average pool (the 512-d fc projection is kept for zero-shot)", feature_dim=2048,
    taps=RESNET_TAPS,
    components=(
        backbone((), "vision_model.model.", drop=(r"^fc\.",)),
        linear((), "vision_model.model.fc.", "image_projection", bias=False),
        bert((), "text_model.model."),
        linear((), "text_model.projection_head.", "text_projection", bias=False),
        logit_scale(()),
    ),
    zero_shot="medclip", text_tower=TEXT, tokenizer="Bio_ClinicalBERT", text_pooling="medclip", file_name="medclip-pretrained.zip",
    paper="MedCLIP: Contrastive Learning from Unpaired Medical Images and Text (Wang et al., EMNLP 2022)",
    license="MIT", source="the URL in medclip/medclip_resnet_weight.txt (github.com/RyanWangZf/MedCLIP)",
)

# Segmentation: MedCLIP defines no segmentation protocol; Swin-Tiny is hierarchical, so it gets the U-Net over its
# four stages' outputs (1/4 x 96 ... 1/32 x 768, before each patch merging: transformers' own Swin backbone maps).
MEDCLIP_VIT = EncoderConfig(
    name="medclip-vit", order=110, architecture="swin_tiny",
    input=MEDCLIP_INPUT,
    feature="Swin-Tiny pooled output", feature_dim=768, taps=("stage0", "stage1", "stage2", "stage3"),
    components=(
        backbone((), "vision_model.model.", renames=SWIN_4_TO_5, drop=(r"relative_position_index$",)),
        linear((), "vision_model.projection_head.", "image_projection", bias=False),
        bert((), "text_model.model."),
        linear((), "text_model.projection_head.", "text_projection", bias=False),
        logit_scale(()),
    ),
    zero_shot="medclip", text_tower=TEXT, tokenizer="Bio_ClinicalBERT", text_pooling="medclip", file_name="medclip-vit-pretrained.zip",
    paper="MedCLIP: Contrastive Learning from Unpaired Medical Images and Text (Wang et al., EMNLP 2022)",
    license="MIT", source="the URL in medclip/medclip_vit_weight.txt (github.com/RyanWangZf/MedCLIP)",
    notes="released with transformers 4.2x Swin names, renamed to transformers 5 names on load",
)
