"""KAD (Zhang et al., Nature Communications 2023): ``best_valid.pt`` with image, text and query-decoder entries."""
from asgbench.encoders.config import IMAGENET_MEAN, IMAGENET_STD, EncoderConfig, InputSpec, KeyMap, Component

from baselines.common import RESNET_TAPS, RESNET_TAPS_TO_LAYER3, SEQUENTIAL_RESNET, ZERO_SHOT, backbone, bert, logit_scale, parameters
from asgbench.encoders.text import module_like

TEXT = "Med-KEBERT (BERT with pooler) + 2-layer MLP; pooler output"
TOKENIZER = "Med-KEBERT"   # xmcmic/Med-KEBERT's tokenizer files (vocab.txt); its weights are in the checkpoint
SOURCE = "the Google Drive / Baidu links in the KAD README (github.com/xiaoman-zhang/KAD)"
PAPER = "Knowledge-enhanced visual-language pre-training on chest radiology images (Zhang et al., Nat. Commun. 2023)"


def _input(size: int, store: int) -> InputSpec:
    """KAD's test transform (A3_CLIP/dataset/test_dataset.py): PIL image converted to RGB, Resize to img_res with PIL
    BICUBIC, ToTensor, ImageNet Normalize. CheXpert's script resizes both sides, [img_res, img_res] (lines 62-67, a
    stretch); ChestX-ray14's resizes the shorter side (lines 34-39), the same on its square originals. img_res is 512
    for KAD-512 (A3_CLIP/configs/Res_train_test.yaml:18): read from a 512 store decoded from the original files."""
    return InputSpec(size, IMAGENET_MEAN, IMAGENET_STD, crop=False, geometry="stretch", filter="bicubic", antialias=True,
                     store=store)


def _text_and_queries() -> tuple:
    return (
        parameters(("image_encoder",), "res_l", "patch_projection", renames=((r"^", "res_l"),)),
        bert(("text_encoder",), "bert_model."),
        parameters(("text_encoder",), "mlp_embed.", "text_mlp"),
        logit_scale(("text_encoder",)),
        # the TQN registers one LayerNorm as both decoder_norm and decoder.norm: keep one name
        Component("query_decoder", KeyMap(container=("model",), drop=(r"^decoder\.norm\.",)), required=False,
                  enables=ZERO_SHOT, build=module_like),
    )


KAD = EncoderConfig(
    name="kad", order=120, architecture="resnet50",
    input=_input(512, 512),
    feature="ResNet-50 layer4 global average pool at 512 px", feature_dim=2048, taps=RESNET_TAPS,
    components=(backbone(("image_encoder",), "resnet.", drop=(r"^fc\.",)),) + _text_and_queries(),
    zero_shot="kad", text_tower=TEXT, tokenizer=TOKENIZER, file_name="KAD_Models/KAD_512/best_valid.pt", paper=PAPER, license="MIT", source=SOURCE,
    ignored=((("image_encoder",), r"^res_features\.", "duplicate of resnet.* (shared tensors)"),),
)

KAD_224 = EncoderConfig(
    name="kad-224", order=130, architecture="resnet50", backbone_options={"stop_after": "layer3"},
    input=_input(224, 256),
    feature="ResNet-50 layer3 global average pool (KAD-224 ends at layer3)", feature_dim=1024, taps=RESNET_TAPS_TO_LAYER3,
    components=(backbone(("image_encoder",), "res_features.", renames=SEQUENTIAL_RESNET),) + _text_and_queries(),
    zero_shot="kad", text_tower=TEXT, tokenizer=TOKENIZER, file_name="KAD_Models/KAD_224/best_valid.pt", paper=PAPER, license="MIT", source=SOURCE,
    ignored=((("image_encoder",), r"^resnet\.", "duplicate of res_features.* (layer4 and fc are untrained ImageNet values)"),),
)
