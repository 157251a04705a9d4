"""MGCA (Wang et al., NeurIPS 2022): PyTorch-Lightning checkpoints ``resnet_50.ckpt`` and ``vit_base.ckpt``."""
from asgbench.encoders.config import HALF, EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS, VIT_TAPS, backbone, bert, mgca_head

STATE = ("state_dict",)
TEXT = ("6-layer BLIP BERT (ClinicalBERT init; cross-attention unused; no token types; every token at position 0, "
        "as the released code runs it) + 128-d global head; [CLS]")
# The released BertEncoder passes the all-zero token types where BLIP's BertModel takes position_ids
# (mgca/models/backbones/encoder.py, BertEncoder.forward), in pre-training too: the weights expect position 0.
POSITIONS = "zeros"
SOURCE = "the Google Drive folder in the MGCA README (github.com/HKU-MedAI/MGCA)"
PAPER = "Multi-Granularity Cross-modal Alignment for Generalized Medical Visual Representation Learning (Wang et al., NeurIPS 2022)"


def mgca_components(image_prefix: str = "img_encoder_q.", text_prefix: str = "text_encoder_q.") -> tuple:
    """The MGCA/ASG Lightning layout: image and text encoders with 128-d global and local heads."""
    return (
        backbone(STATE, f"{image_prefix}model."),
        mgca_head(STATE, f"{image_prefix}global_embed.", "image_global_projection"),
        mgca_head(STATE, f"{image_prefix}local_embed.", "image_local_projection"),
        bert(STATE, f"{text_prefix}model.", drop=(r"\.crossattention\.",), zero_fill=("embeddings.token_type_embeddings.weight",)),
        mgca_head(STATE, f"{text_prefix}global_embed.", "text_global_projection"),
        mgca_head(STATE, f"{text_prefix}local_embed.", "text_local_projection"),
    )


# MGCA's evaluation transform: longest side to 256 (cv2 INTER_AREA), zero-padded to 256x256 (mgca/datasets/utils.py:28-85,
# classification_dataset.py:29 imsize=256), CenterCrop(224), ToTensor, Normalize(0.5, 0.5) (mgca/datasets/transforms.py:17-21).
# The store's letterbox averages areas as INTER_AREA does; the short side is rounded where MGCA truncates it.
MGCA_INPUT = InputSpec(224, HALF, HALF)

MGCA_IGNORED = ((STATE, r"^(patch_local_atten_layer|word_local_atten_layer|prototype_layer)\.", "pre-training only (attention, prototypes)"),)

MGCA_R50 = EncoderConfig(
    name="mgca-r50", order=140, architecture="resnet50", backbone_options={"upsample_to": 299, "local": "layer3"},
    input=MGCA_INPUT,
    feature="ResNet-50 layer4 global average pool (input upsampled to 299 inside the encoder)", feature_dim=2048,
    taps=RESNET_TAPS, components=mgca_components(), zero_shot="cosine", text_tower=TEXT, tokenizer="Bio_ClinicalBERT", text_positions=POSITIONS,
    file_name="resnet_50.ckpt",
    paper=PAPER, license="MIT", source=SOURCE, ignored=MGCA_IGNORED,
)

MGCA_VIT = EncoderConfig(
    name="mgca-vit", order=160, architecture="vit_base_patch16", backbone_options={"pool": "token"},
    input=MGCA_INPUT,
    feature="ViT-B/16 [CLS] token after the final LayerNorm", feature_dim=768, taps=VIT_TAPS,
    components=mgca_components(), zero_shot="cosine", text_tower=TEXT, tokenizer="Bio_ClinicalBERT", text_positions=POSITIONS,
    file_name="vit_base.ckpt",
    paper=PAPER, license="MIT", source=SOURCE, ignored=MGCA_IGNORED,
)
