"""ConVIRT (Zhang et al., MLHC 2022): no official weights; BenchX's re-trained release (ViLMedic layout)."""
from asgbench.encoders.config import EncoderConfig, InputSpec

from baselines.common import RESNET_TAPS, SEQUENTIAL_RESNET, backbone

BENCHX_NORM = (0.4978,) * 3, (0.2449,) * 3
# BenchX's evaluation transform, NIHTransforms (unifier/datasets/transforms.py:47-66): Resize(224) (shorter side,
# bilinear, PIL), CenterCrop(224), Grayscale(3), ToTensor, Normalize(0.4978, 0.2449). Every classification config of
# ConVIRT selects it, whatever the dataset (configs/classification/{NIH,RSNA,COVIDx,SIIM,VinDr}/convirt.yml:16-17);
# the per-dataset RSNATransforms and CheXTransforms (transforms.py:71-112) are selected by no config.
BENCHX_INPUT = InputSpec(224, BENCHX_NORM[0], BENCHX_NORM[1], crop=False, geometry="shorter-side", resize_to=224,
                         antialias=True)

CONVIRT = EncoderConfig(
    name="convirt", order=70, architecture="resnet50",
    input=BENCHX_INPUT,
    feature="ResNet-50 layer4 global average pool", feature_dim=2048, taps=RESNET_TAPS,
    # BenchX's loader builds a named Sequential (torchvision names); upstream ViLMedic numbers the children.
    components=(backbone(("model",), "visual.model.", renames=SEQUENTIAL_RESNET),),
    file_name="ConVIRT.pth",
    paper="Contrastive Learning of Medical Visual Representations from Paired Images and Text (Zhang et al., MLHC 2022)",
    license="MIT (BenchX release)", source="https://huggingface.co/youngzhou12/ConVIRT (BenchX re-trained ConVIRT)",
    ignored=((("model",), r"^(linguistic|vis_proj|lin_proj)\.", "text tower and projections (no zero-shot in ConVIRT's protocol)"),),
    notes="zero-shot is not part of ConVIRT's protocol; BenchX's text tower type is not documented",
)
