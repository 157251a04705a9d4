"""BiomedCLIP (Zhang et al. 2023): open_clip hf-hub folder ``BiomedCLIP-PubMedBERT_256-vit_base_patch16_224``.

The folder holds ``open_clip_config.json`` (the model and preprocessing config), ``open_clip_pytorch_model.bin``
(a plain state dict of open_clip's CustomTextCLIP: ``visual.trunk.*`` a timm ViT-B/16, ``visual.head.proj``,
``text.transformer.*`` PubMedBERT, ``text.proj.*`` an MLP, ``logit_scale``) and the tokenizer files. The
checkpoint is the ``.bin``; the config beside it is read to build the towers (open_clip's own way, but
from the local folder instead of the hub), and the tokenizer is read from the same folder.
"""
import json
from dataclasses import replace
from pathlib import Path

from asgbench.encoders.config import VIT, Component, EncoderConfig, InputSpec, KeyMap
from asgbench.encoders.open_clip_backbones import hf_text_tower
from asgbench.errors import DataLayoutError

from baselines.common import POSITION_IDS, VIT_TAPS, ZERO_SHOT, backbone, logit_scale

FOLDER = "BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
CONFIG_FILE = "open_clip_config.json"
# open_clip_config.json of the release (microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224), used when
# no file is given (random weights); a real folder's own file always wins.
MODEL_CFG = {
    "embed_dim": 512,
    "vision_cfg": {"timm_model_name": "vit_base_patch16_224", "timm_model_pretrained": False, "timm_pool": "",
                   "timm_proj": "linear", "image_size": 224},
    "text_cfg": {"hf_model_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                 "hf_tokenizer_name": "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract",
                 "hf_proj_type": "mlp", "hf_pooler_type": "cls_last_hidden_state_pooler", "context_length": 256},
}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
# open_clip's evaluation transform (src/open_clip/transform.py, image_transform, lines 385-390 and 474-485): with the
# PreprocessCfg defaults (lines 18-25: interpolation bicubic, resize_mode shortest) a PIL Resize(224) of the shorter
# side, bicubic, then CenterCrop(224), RGB, ToTensor, Normalize(mean, std of the folder's preprocess_cfg).
GEOMETRY_OF_RESIZE_MODE = {"shortest": "shorter-side", "squash": "stretch", "longest": "letterbox"}


def input_spec(size: int, preprocess_cfg: dict) -> InputSpec:
    """The transform open_clip builds from a folder's ``preprocess_cfg`` (its defaults where a key is absent)."""
    mode = preprocess_cfg.get("resize_mode", "shortest")
    if mode not in GEOMETRY_OF_RESIZE_MODE or preprocess_cfg.get("interpolation", "bicubic") not in ("bicubic", "bilinear"):
        raise DataLayoutError(f"{CONFIG_FILE}: resize_mode {mode!r} / interpolation {preprocess_cfg.get('interpolation')!r} "
                              f"is not one open_clip evaluates with ({', '.join(GEOMETRY_OF_RESIZE_MODE)}; bicubic, bilinear)")
    geometry = GEOMETRY_OF_RESIZE_MODE[mode]
    return InputSpec(size, tuple(preprocess_cfg.get("mean", OPENAI_MEAN)), tuple(preprocess_cfg.get("std", OPENAI_STD)),
                     crop=False, geometry=geometry, resize_to=size if geometry == "shorter-side" else 0,
                     filter=preprocess_cfg.get("interpolation", "bicubic"), antialias=True)


def components(model_cfg: dict) -> tuple[Component, ...]:
    text_cfg, embed_dim = model_cfg["text_cfg"], model_cfg["embed_dim"]
    return (
        backbone((), "", include=r"^visual\."),
        Component("text", KeyMap(prefix="text.", drop=(POSITION_IDS,)), required=False, enables=ZERO_SHOT,
                  build=lambda tensors: hf_text_tower(tensors, text_cfg, embed_dim)),
        logit_scale(()),
    )


def from_folder(config: EncoderConfig, path: Path) -> EncoderConfig:
    """The entry as the folder's ``open_clip_config.json`` describes it (towers, context length, mean/std)."""
    source = Path(path).parent / CONFIG_FILE
    if not source.is_file():
        raise DataLayoutError(f"{path}: BiomedCLIP's weights need {CONFIG_FILE} beside them (the hf-hub folder {FOLDER})")
    data = json.loads(source.read_text())
    model_cfg = data.get("model_cfg")
    if not isinstance(model_cfg, dict) or "vision_cfg" not in model_cfg or "text_cfg" not in model_cfg:
        raise DataLayoutError(f"{source}: expected a 'model_cfg' with 'vision_cfg' and 'text_cfg'")
    pre = data.get("preprocess_cfg", {})
    size = model_cfg["vision_cfg"].get("image_size", 224)
    return replace(config, input=input_spec(size, pre), backbone_options={"model_cfg": model_cfg}, components=components(model_cfg),
                   provenance={**config.provenance, "open_clip_config": model_cfg})


# Segmentation: BiomedCLIP's authors define no segmentation protocol. Its tower is a plain ViT (one token grid; blocks
# 2, 5, 8, 11 tapped at that one resolution, no pyramid for a U-Net), so it gets the harness's plain-ViT head:
# MGCA's SETR-PUP on the final normed patch tokens (asgbench.tasks.seg_models.plain_vit; segmentation_head left
# empty, so results record it as chosen by the architecture).
BIOMEDCLIP = EncoderConfig(
    name="biomedclip", order=164, group=VIT, architecture="open_clip", backbone_options={"model_cfg": MODEL_CFG},
    input=input_spec(224, {}),
    feature="timm ViT-B/16 [CLS] token after the final LayerNorm (768-d; visual.head.proj to 512-d is used for zero-shot)",
    feature_dim=768, taps=VIT_TAPS, components=components(MODEL_CFG),
    zero_shot="biomedclip", text_tower="PubMedBERT (BiomedBERT-base-uncased-abstract), [CLS] of the last layer, MLP to 512",
    tokenizer=FOLDER, file_name=f"{FOLDER}/open_clip_pytorch_model.bin", checkpoint_config="baselines.biomedclip:from_folder",
    paper="BiomedCLIP: a multimodal biomedical foundation model pretrained from fifteen million scientific image-text "
          "pairs (Zhang et al., 2023)",
    license="MIT", source="huggingface.co/microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224 (the whole folder)",
)
