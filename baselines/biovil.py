"""BioViL (Boecking et al., ECCV 2022; hi-ml-multimodal): a ResNet-50 image model and CXR-BERT-specialized.

Two released artifacts. The image model ``biovil_image_resnet50_proj_size_128.pt`` is a plain state dict of
hi-ml's ``ImageModel("resnet50", joint_feature_size=128)``: ``encoder.encoder.*`` (torchvision ResNet-50
names, ``fc`` included but unused) and ``projector.model.{0,1,3}.*`` (1x1 conv 2048->128 without bias,
BatchNorm2d, ReLU, 1x1 conv 128->128). The text model is the Hugging Face folder
``BiomedVLP-CXR-BERT-specialized`` (``config.json``, ``pytorch_model.bin``, ``vocab.txt``): a ``CXRBertModel``
(``bert.*`` of BertForMaskedLM, ``cls.predictions.*`` its MLM head, ``cls_projection_head.*``). The image file
is the checkpoint; the text folder sits under ``$ASGBENCH_WEIGHTS`` (or beside the image file) and is
loaded, strictly and with its own load report, when zero-shot scoring starts (:func:`load_text`).
"""
from pathlib import Path

import torch
from torch import nn

from asgbench.encoders.checkpoint_io import read_checkpoint
from asgbench.encoders.config import Component, EncoderConfig, InputSpec, KeyMap
from asgbench.encoders.loading import LoadReport, load_components
from asgbench.errors import DataLayoutError

from baselines.common import RESNET_TAPS, ZERO_SHOT, backbone, bert

TEXT_FOLDER = "BiomedVLP-CXR-BERT-specialized"
TEXT_FILES = ("pytorch_model.bin", "model.safetensors")
JOINT = 128


class PatchProjector(nn.Module):
    """hi-ml's ``MLP(use_1x1_convs=True)`` layout: applied to every layer4 position, then averaged."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        hidden, channels = tensors["model.0.weight"].shape[:2]
        out = tensors["model.3.weight"].shape[0]
        self.model = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
                                   nn.Conv2d(hidden, out, 1, bias=True))

    def forward(self, layer4: torch.Tensor) -> torch.Tensor:
        """Projected global embedding: the mean over positions of the projected patch embeddings."""
        return self.model(layer4).mean(dim=(2, 3))


class CLSProjection(nn.Module):
    """CXR-BERT's ``cls_projection_head``: dense, GELU, LayerNorm (eps 1e-12), dense."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        projection, hidden = tensors["dense_to_hidden.weight"].shape
        self.dense_to_hidden = nn.Linear(hidden, projection)
        self.LayerNorm = nn.LayerNorm(projection, eps=1e-12)
        self.dense_to_output = nn.Linear(projection, projection)

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        return self.dense_to_output(self.LayerNorm(nn.functional.gelu(self.dense_to_hidden(cls))))


TEXT_COMPONENTS = (
    bert((), "bert."),
    Component("text_projection", KeyMap(prefix="cls_projection_head."), required=False, enables=ZERO_SHOT, build=CLSProjection),
)
TEXT_IGNORED = (((), r"^cls\.predictions\.", "CXR-BERT masked-language-model head (not used for embeddings)"),)


def load_text(folder: Path, model_name: str = "biovil") -> tuple[dict[str, nn.Module], LoadReport]:
    """CXR-BERT-specialized from its Hugging Face folder: the BERT and its projection head, loaded strictly."""
    folder = Path(folder)
    weights = next((folder / name for name in TEXT_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise DataLayoutError(f"{folder}: expected the CXR-BERT weights ({' or '.join(TEXT_FILES)}) in this folder")
    raw = read_checkpoint(weights)
    parts: dict[str, nn.Module] = {}
    report = load_components(raw, model_name, parts, TEXT_COMPONENTS, lambda c, t: c.build(t), TEXT_IGNORED)
    failed = [c.name for c in report.components if not c.loaded]
    if failed or report.unused_keys:
        raise DataLayoutError(f"{weights}: CXR-BERT parts {failed} not loaded; unexpected keys {report.unused_examples}")
    return parts, report


# hi-ml's inference transform (hi-ml-multimodal/src/health_multimodal/image/data/transforms.py:28-38): Resize(512)
# (shorter side, bilinear, on the PIL image that image/data/io.py:46-68 loads in mode L), CenterCrop(480) for BioViL
# (image/utils.py:13 TRANSFORM_RESIZE, :36), ToTensor, ExpandChannels to 3; no mean/std. Read from a 512 store.
BIOVIL_INPUT = InputSpec(480, (0.0,) * 3, (1.0,) * 3, crop=False, geometry="shorter-side", resize_to=512, antialias=True,
                         store=512)

# order 85: before MedKLIP, where the ASG README's zero-shot table puts BioViL
BIOVIL = EncoderConfig(
    name="biovil", order=85, architecture="resnet50",
    input=BIOVIL_INPUT,
    feature="ResNet-50 layer4 global average pool (hi-ml's img_embedding; the 128-d patch projector is kept for zero-shot)",
    feature_dim=2048, taps=RESNET_TAPS,
    components=(
        backbone((), "encoder.encoder.", drop=(r"^fc\.",)),
        Component("image_projection", KeyMap(prefix="projector."), required=False, enables=ZERO_SHOT, build=PatchProjector),
    ),
    zero_shot="biovil", text_tower="CXR-BERT-specialized (BERT-base, 128-d [CLS] projection head), a separate HF folder",
    tokenizer=TEXT_FOLDER, file_name="biovil_image_resnet50_proj_size_128.pt",
    paper="Making the Most of Text Semantics to Improve Biomedical Vision-Language Processing (Boecking et al., ECCV 2022)",
    license="MIT",
    source="hi-ml-multimodal's BIOVIL_IMAGE_WEIGHTS_URL (huggingface.co/microsoft/BiomedVLP-CXR-BERT-specialized, "
           "biovil_image_resnet50_proj_size_128.pt) and the text folder microsoft/BiomedVLP-CXR-BERT-specialized",
    notes="BioViL's inference transform, Resize(512) of the shorter side, CenterCrop(480), [0, 1] inputs, is applied "
          "to the original's content in a 512-px letterboxed store (the original, area-averaged to 512 on its longer "
          "side, is what gets resized); the text folder is loaded when zero-shot starts, with its own strict load report",
)
