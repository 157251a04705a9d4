"""GLoRIA (Huang et al., ICCV 2021): PyTorch-Lightning checkpoint ``chexpert_resnet50.ckpt``."""
from asgbench.encoders.config import HALF, EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS, backbone, bert, linear, parameters

# GLoRIA's test transform: cv2 grayscale read, longest side to 256 (INTER_AREA) and zero-padded (gloria/models/
# gloria_model.py:248-263, 294; configs/chexpert_classification_config.yaml:39 imsize 256), CenterCrop(224), ToTensor,
# Normalize "half" = 0.5/0.5 (gloria/builder.py:174-183; the same config's transforms, lines 41-44).
GLORIA = EncoderConfig(
    name="gloria", order=80, architecture="resnet50", backbone_options={"upsample_to": 299, "local": "layer3"},
    input=InputSpec(224, HALF, HALF),
    feature="ResNet-50 layer4 global average pool (input upsampled to 299 inside the encoder)", feature_dim=2048,
    taps=RESNET_TAPS,
    components=(
        backbone(("state_dict",), "gloria.img_encoder.model."),
        linear(("state_dict",), "gloria.img_encoder.global_embedder.", "image_global_projection", bias=True),
        parameters(("state_dict",), "gloria.img_encoder.local_embedder.", "image_local_projection"),
        bert(("state_dict",), "gloria.text_encoder.model."),
    ),
    zero_shot="gloria", text_tower="Bio_ClinicalBERT (12 layers, pooler); word-aggregated sum of the last 4 layers",
    tokenizer="Bio_ClinicalBERT",
    file_name="chexpert_resnet50.ckpt",
    paper="GLoRIA: A Multimodal Global-Local Representation Learning Framework (Huang et al., ICCV 2021)",
    license="MIT", source="the Stanford Box link in the GLoRIA README (github.com/marshuang80/gloria)",
)
