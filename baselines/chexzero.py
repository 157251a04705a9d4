"""CheXzero (Tiu et al., Nat. Biomed. Eng. 2022): OpenAI CLIP ViT-B/32 fine-tuned on MIMIC-CXR.

The released ``.pt`` files (an ensemble of ten, e.g. ``best_64_5e-05_original_22000_0.864.pt``) are plain
state dicts of the OpenAI CLIP model that ``clip.load("ViT-B/32", jit=False)`` builds: ``visual.*``,
``transformer.*``, ``token_embedding``, ``positional_embedding``, ``ln_final``, ``text_projection``,
``logit_scale``. open_clip's ``ViT-B-32-quickgelu`` has exactly these names (OpenAI CLIP uses QuickGELU).
Evaluation (rajpurkarlab/CheXzero zero_shot.py): images stored at 320 x 320, normalised with mean 101.48761 /
std 83.43944 (of 255) and resized to 224 bicubic; per label, softmax of the unscaled cosine similarities
with "{}" vs "no {}".
"""
from asgbench.encoders.config import VIT, Component, EncoderConfig, InputSpec, KeyMap
from asgbench.encoders.open_clip_backbones import clip_text_tower

from baselines.common import VIT_TAPS, ZERO_SHOT, backbone

OPEN_CLIP_MODEL = "ViT-B-32-quickgelu"
CHEXZERO_NORM = (101.48761 / 255,) * 3, (83.43944 / 255,) * 3
# CheXzero's images are stored letterboxed at 320 (data_process.py:31-41: longest side to 320, PIL ANTIALIAS, pasted
# centred on black), then zero_shot.py:377-386 normalises with 101.48761 / 83.43944 and applies Resize(224, BICUBIC) to
# the tensor: torchvision 0.11.3 (requirements.txt:27) resizes tensors without antialiasing. Normalising first and
# resizing after are the same (bicubic weights sum to one).
CHEXZERO_INPUT = InputSpec(224, CHEXZERO_NORM[0], CHEXZERO_NORM[1], crop=False, filter="bicubic", store=320)
# the text side of an OpenAI-layout CLIP state dict (everything but visual.*)
CLIP_TEXT_KEYS = r"^(transformer\.|token_embedding\.|positional_embedding$|ln_final\.|text_projection$|logit_scale$)"


def clip_text(tensors):
    return clip_text_tower(OPEN_CLIP_MODEL)


# Segmentation: CheXzero's authors define no segmentation protocol. Its tower is a plain ViT (one token grid; blocks
# 2, 5, 8, 11 tapped at that one resolution, no pyramid for a U-Net), so it gets the harness's plain-ViT head:
# MGCA's SETR-PUP on the final normed patch tokens (asgbench.tasks.seg_models.plain_vit; segmentation_head left
# empty, so results record it as chosen by the architecture).
CHEXZERO = EncoderConfig(
    name="chexzero", order=162, group=VIT, architecture="open_clip",
    backbone_options={"model_name": OPEN_CLIP_MODEL},
    input=CHEXZERO_INPUT,
    feature="CLIP ViT-B/32 class token after ln_post (768-d; visual.proj to 512-d is used for zero-shot)", feature_dim=768,
    taps=VIT_TAPS,
    components=(
        backbone((), "", include=r"^visual\."),
        Component("text", KeyMap(include=CLIP_TEXT_KEYS), required=False, enables=ZERO_SHOT, build=clip_text),
    ),
    zero_shot="chexzero", text_tower="OpenAI CLIP text transformer (12 layers, width 512, BPE vocabulary 49408, 77 tokens)",
    file_name="best_64_5e-05_original_22000_0.864.pt",
    paper="Expert-level detection of pathologies from unannotated chest X-ray images via self-supervised learning "
          "(Tiu et al., Nature Biomedical Engineering 2022)",
    license="MIT", source="the Google Drive folder linked in github.com/rajpurkarlab/CheXzero (README, 'Model Checkpoints')",
    notes="any of the ten ensemble files loads the same way (pass it with --checkpoint); the paper averages the ensemble. "
          "Its 320-px store is letterboxed with area averaging where CheXzero's h5 used Lanczos",
)
