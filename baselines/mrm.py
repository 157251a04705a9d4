"""MRM (Zhou et al., ICLR 2023): ``MRM.pth`` with the whole pre-training model under ``model`` (no prefix)."""
from asgbench.encoders.config import SEGMENTATION_HEADS, EncoderConfig, InputSpec

from baselines.common import VIT_TAPS, backbone

MRM_NORM = (0.4978,) * 3, (0.2449,) * 3
# MRM's fine-tuning test transform (NIH_ChestX-ray/utils/data_utils.py:27-32; images opened as RGB, utils/my_dataset.py:67):
# Resize(224) (shorter side, bilinear, PIL), CenterCrop(224), Grayscale(3), ToTensor, Normalize(0.4978, 0.2449).
MRM_INPUT = InputSpec(224, MRM_NORM[0], MRM_NORM[1], crop=False, geometry="shorter-side", resize_to=224, antialias=True)

MRM = EncoderConfig(
    name="mrm", order=150, architecture="vit_base_patch16", backbone_options={"pool": "avg-prenorm-fresh-ln"},
    input=MRM_INPUT,
    feature="ViT-B/16 mean of the last block's patch tokens, then a new LayerNorm at its init (MRM's fc_norm; "
            "the released final norm is not applied)", feature_dim=768, taps=VIT_TAPS,
    components=(backbone(("model",), "", include=r"^(cls_token|pos_embed|patch_embed\.|blocks\.|norm\.)"),),
    file_name="MRM.pth",
    paper="Advancing Radiograph Representation Learning with Masked Record Modeling (Zhou et al., ICLR 2023)",
    license="see the MRM repository", source="the Google Drive link in the MRM README (github.com/RL4M/MRM-pytorch)",
    ignored=((("model",), r"^(mask_token|decoder_|bert_)", "pre-training only (MAE decoder, masked-record BERT)"),),
    notes=("as MRM's fine-tuning code (NIH_ChestX-ray/models_vit.py, global_pool=True): the final norm is deleted, the "
           "patch tokens averaged, and a fresh fc_norm (LayerNorm eps 1e-6, weight 1, bias 0) applied; a frozen probe "
           "keeps that LayerNorm at its init"),
    # MRM's own SIIM protocol (Siim_Segmentation/configs): UPerNet over blocks 3, 5, 7, 11 made into a 4-scale pyramid
    segmentation_head=SEGMENTATION_HEADS["upernet"],
)
