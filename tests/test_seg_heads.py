"""The ViT segmentation heads as their authors build them: MGCA's SETR-PUP and MRM's UPerNet over ViT blocks.

Facts checked here come from the authors' code: MGCA@680fe4a mgca/models/backbones/transformer_seg.py
(``Encoder2D.final_dense``, ``Decoder2D``), MRM@3730ba4 Siim_Segmentation/configs (``out_indices``, neck
``Feature2Pyramid`` rescales, ``UPerHead`` width and pool scales) and mmsegmentation's ``Feature2Pyramid``.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from asgbench.encoders import MODELS, create_encoder
from asgbench.encoders.backbones import build_backbone
from asgbench.encoders.config import SEGMENTATION_HEADS
from asgbench.encoders.loading import LoadReport
from asgbench.encoders.model import Encoder
from asgbench.errors import ConfigError
from asgbench.tasks.protocols import SegmentationProtocol, describe, protocol_for
from asgbench.tasks.seg_heads import ProgressiveUpsampling
from asgbench.tasks.seg_models import SegmentationModel, resolve_head

SIDE = 32                     # small images: a 2 x 2 patch grid on the full-size ViT-B/16
MRM_BLOCKS = [3, 5, 7, 11]    # MRM Siim_Segmentation/configs/mrm/upernet_mrm-base_*_siim.py: out_indices


@pytest.fixture(scope="module")
def vit_b() -> Encoder:
    return create_encoder("random-vit", img_size=SIDE)


@pytest.fixture(scope="module")
def mrm(vit_b) -> Encoder:
    """The MRM registry entry's config on ViT-B/16 weights (random: MRM.pth is not in the test data)."""
    return Encoder(MODELS.get("mrm"), vit_b.backbone, {}, vit_b.report).eval()


@pytest.fixture(scope="module")
def timm_vit(vit_b):
    """timm's own VisionTransformer holding the same weights (our backbone keeps timm's parameter names)."""
    import timm

    with torch.device("meta"):              # no random init to pay for: every tensor is then assigned
        model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0, img_size=SIDE)
    model.load_state_dict(vit_b.backbone.state_dict(), strict=True, assign=True)
    return model.eval()


def images(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------ which head


def test_each_model_gets_its_authors_head_and_a_protocol_may_override_it():
    assert resolve_head(MODELS.get("mrm")) == (MODELS.get("mrm").segmentation_head, "encoder")
    assert MODELS.get("mrm").segmentation_head.kind == "upernet"
    assert list(MODELS.get("mrm").segmentation_head.blocks) == MRM_BLOCKS
    assert resolve_head(MODELS.get("mgca-vit"))[0].kind == "setr-pup"
    assert resolve_head(MODELS.get("asg-vit"))[0].kind == "setr-pup"
    assert resolve_head(MODELS.get("mgca-r50"))[0].kind == "unet"
    # open_clip's ViT towers are plain ViTs (SETR-PUP, the harness's plain-ViT head); MedCLIP's Swin is hierarchical
    pup = (SEGMENTATION_HEADS["setr-pup"], "architecture")
    assert [resolve_head(MODELS.get(name)) for name in ("chexzero", "biomedclip")] == [pup, pup]
    assert resolve_head(MODELS.get("medclip-vit"))[0].kind == "unet"
    spec = protocol_for("segmentation", overrides=("segmentation_head=upernet",))
    assert spec.version == "2" and describe(spec)["segmentation_head"] == "upernet"
    assert spec.overrides == ("segmentation_head=upernet",)
    head, chosen_by = resolve_head(MODELS.get("mgca-vit"), spec.segmentation_head)
    assert (head.kind, list(head.blocks), chosen_by) == ("upernet", MRM_BLOCKS, "protocol")
    assert resolve_head(MODELS.get("mrm"), "setr-pup")[0].kind == "setr-pup"
    with pytest.raises(ConfigError, match="not a plain|is not one"):
        resolve_head(MODELS.get("mgca-r50"), "upernet")
    with pytest.raises(ConfigError, match="must be one of"):
        resolve_head(MODELS.get("mgca-vit"), "fpn")


# ------------------------------------------------------------------------------------------ MGCA's SETR-PUP

# MGCA's SETRModel(patch (16, 16), hidden 768, decode_features [512, 256, 128, 64], sample_rate 4) as its segmenter
# builds it (mgca_segmenter.py): final_dense = Linear(768, 16 * 16 * 768 // (2 ** 4) ** 2) (transformer_seg.py 24-25);
# decoder_1..4 = Conv2d 3x3 + BatchNorm2d (117-140); final_out = Conv2d(64, 1, 3, padding=1) (142).
MGCA_PUP_SHAPES = {
    "encoder_2d.final_dense.weight": (768, 768), "encoder_2d.final_dense.bias": (768,),
    **{key: shape for i, (cin, cout) in enumerate([(768, 512), (512, 256), (256, 128), (128, 64)], start=1) for key, shape in {
        f"decoder_2d.decoder_{i}.0.weight": (cout, cin, 3, 3), f"decoder_2d.decoder_{i}.0.bias": (cout,),
        f"decoder_2d.decoder_{i}.1.weight": (cout,), f"decoder_2d.decoder_{i}.1.bias": (cout,),
        f"decoder_2d.decoder_{i}.1.running_mean": (cout,), f"decoder_2d.decoder_{i}.1.running_var": (cout,),
        f"decoder_2d.decoder_{i}.1.num_batches_tracked": ()}.items()},
    "decoder_2d.final_out.weight": (1, 64, 3, 3), "decoder_2d.final_out.bias": (1,),
}


def _as_mgca(name: str) -> str:
    name = name.replace("project.", "encoder_2d.final_dense.").replace("head.", "decoder_2d.final_out.")
    if name.startswith("blocks."):
        _, index, rest = name.split(".", 2)
        name = f"decoder_2d.decoder_{int(index) + 1}.{rest}"
    return name


def test_pup_has_mgcas_layers():
    ours = {_as_mgca(k): tuple(v.shape) for k, v in ProgressiveUpsampling(768).state_dict().items()}
    assert ours == MGCA_PUP_SHAPES


def _bilinear_align_corners(n_in: int, n_out: int) -> torch.Tensor:
    """The n_out x n_in interpolation matrix of bilinear resizing with align_corners=True (corners map to corners)."""
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        source = i * (n_in - 1) / (n_out - 1)
        low = min(int(np.floor(source)), n_in - 2)
        frac = source - low
        matrix[i, low] += 1 - frac
        matrix[i, low + 1] += frac
    return matrix


def _pup_by_hand(pup: ProgressiveUpsampling, tokens: torch.Tensor, side: int, align: bool) -> torch.Tensor:
    """MGCA's head written out: Linear, tokens laid out row by row (rearrange 'b (h w) c -> b c h w'), then per
    block conv, BN, ReLU and a x2 bilinear resize as a matrix product, then the final conv."""
    x = pup.project(tokens)
    x = x.reshape(x.shape[0], side, side, -1).permute(0, 3, 1, 2)
    for block in pup.blocks:
        y = block(x).double()
        n = y.shape[-1]
        matrix = _bilinear_align_corners(n, 2 * n) if align else _half_pixel(n, 2 * n)
        x = (matrix @ y @ matrix.T).float()
    return pup.head(x)


def _half_pixel(n_in: int, n_out: int) -> torch.Tensor:
    """align_corners=False (half-pixel centres, clamped at the border), for showing the test tells the two apart."""
    matrix = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        source = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
        low = min(int(np.floor(source)), n_in - 1)
        high = min(low + 1, n_in - 1)
        matrix[i, low] += 1 - (source - low)
        matrix[i, high] += source - low
    return matrix


def test_pup_upsamples_with_align_corners_true_as_mgca_released_it():
    torch.manual_seed(0)
    pup = ProgressiveUpsampling(768)
    for module in pup.modules():             # statistics that are not the identity, so BN is really applied
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    pup.eval()
    tokens = torch.randn(2, 9, 768)           # a 3 x 3 grid -> 48 x 48
    with torch.no_grad():
        got = pup(tokens, (3, 3), (48, 48))
        expected = _pup_by_hand(pup, tokens, 3, align=True)
        other = _pup_by_hand(pup, tokens, 3, align=False)
    assert got.shape == (2, 1, 48, 48)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert (got - other).abs().max() > 1e-2


def test_pup_on_vit_b_reads_the_last_normed_tokens(vit_b, timm_vit):
    model = SegmentationModel(vit_b).eval()
    assert model.kind == "setr-pup" and model.describe_head() == {"kind": "setr-pup", "blocks": [], "chosen_by": "architecture"}
    x = images()
    with torch.no_grad():
        (tokens,) = model.encode(x)
        torch.testing.assert_close(tokens, timm_vit.forward_features(x)[:, 1:])
        assert model(x).shape == (2, 1, SIDE, SIDE)


# ------------------------------------------------------------------------------------------ MRM's UPerNet


def test_mrm_reads_blocks_3_5_7_11_before_the_final_norm(mrm, timm_vit):
    model = SegmentationModel(mrm, upernet_channels=32).eval()
    assert model.kind == "upernet" and model.describe_head() == {"kind": "upernet", "blocks": MRM_BLOCKS, "chosen_by": "encoder"}
    x = images()
    with torch.no_grad():
        encoded = model.encode(x)
        expected = timm_vit.forward_intermediates(x, indices=MRM_BLOCKS, norm=False, intermediates_only=True)
        normed = timm_vit.forward_intermediates(x, indices=MRM_BLOCKS, norm=True, intermediates_only=True)
        shifted = timm_vit.forward_intermediates(x, indices=[2, 5, 8, 11], norm=False, intermediates_only=True)
    assert [tuple(m.shape) for m in encoded] == [(2, 768, 2, 2)] * 4
    for ours, theirs, after_norm in zip(encoded, expected, normed):
        torch.testing.assert_close(ours, theirs)
        assert not torch.allclose(ours, after_norm, atol=1e-3)
    assert not torch.allclose(encoded[0], shifted[0], atol=1e-3)
    # the backbone's own features are unchanged: its tapped maps are the same block outputs
    with torch.no_grad():
        torch.testing.assert_close(mrm.encode(x).maps["block5"], encoded[1])
    model.train()
    model(x).mean().backward()                                     # trains: every head parameter gets a gradient
    assert all(p.grad is not None for p in model.trainable_parameters())
    assert not any(p.requires_grad for p in mrm.parameters())


def test_upernet_on_vit_b_has_mrms_pyramid_and_head(mrm):
    assert SegmentationProtocol().upernet_channels == 768      # MRM's width: UPerHead channels (Siim config, decode_head)
    model = SegmentationModel(mrm, upernet_channels=32)
    upernet = model.decoder
    assert [type(m) for m in upernet.pyramid.up4] == [nn.ConvTranspose2d, nn.BatchNorm2d, nn.GELU, nn.ConvTranspose2d]
    assert all(m.kernel_size == (2, 2) and m.stride == (2, 2) for m in upernet.modules() if isinstance(m, nn.ConvTranspose2d))
    assert isinstance(upernet.pyramid.down2, nn.MaxPool2d) and upernet.pyramid.down2.kernel_size == 2
    pools = [block[0].output_size for block in upernet.decoder.psp.blocks]
    assert pools == [1, 2, 3, 6]                                   # UPerHead pool_scales
    assert not any(isinstance(m, nn.LayerNorm) for m in upernet.modules())   # mmseg's UPerHead normalises no input
    assert isinstance(upernet.dropout, nn.Dropout2d) and upernet.dropout.p == 0.1
    assert (upernet.head.in_channels, upernet.head.out_channels, upernet.head.kernel_size) == (32, 1, (1, 1))
    x = images()
    model.eval()
    with torch.no_grad():
        pyramid = upernet.pyramid(model.encode(x))
        assert [tuple(m.shape) for m in pyramid] == [(2, 768, 8, 8), (2, 768, 4, 4), (2, 768, 2, 2), (2, 768, 1, 1)]
        assert tuple(upernet.decoder([None, None, *pyramid]).shape) == (2, 32, 8, 8)   # 1/4 of the input
        assert model(x).shape == (2, 1, SIDE, SIDE)


# ------------------------------------------------------------------------------------------ every registry entry

# Per backbone architecture: the side of the small test image and the options that build the backbone for it (the
# entry's own options otherwise). An architecture not listed is built as its entry says, at its native input size.
SMALL_SIDE = {"vit_base_patch16": SIDE, "vit_tiny_patch16": SIDE, "resnet50": SIDE, "resnet18": SIDE,
              "open_clip": 64,     # a 2 x 2 grid on CLIP ViT-B/32
              "swin_tiny": 224}    # HF Swin's 7 x 7 windows need a 7 x 7 map at 1/32


def _small_options(config, side: int) -> dict:
    options = dict(config.backbone_options)
    if config.architecture.startswith("vit"):
        options["img_size"] = side
    elif config.architecture.startswith("resnet") and options.get("upsample_to"):
        options["upsample_to"] = options["upsample_to"] * side // config.input.size   # 299/224 of the input, as at 224
    elif config.architecture == "open_clip":
        from asgbench.encoders.open_clip_backbones import model_config

        model_cfg = copy.deepcopy(model_config(options.pop("model_name", None), options.pop("model_cfg", None)))
        model_cfg["vision_cfg"]["image_size"] = side
        options["model_cfg"] = model_cfg
    return options


@pytest.fixture(scope="module")
def backbones():
    """Backbones built for small inputs, shared by the entries that have the same one (frozen: only read), and
    dropped after this module's tests."""
    built: dict[str, nn.Module] = {}
    yield built
    built.clear()


def small_encoder(name: str, backbones: dict[str, nn.Module]) -> tuple[Encoder, int]:
    """The registry entry ``name`` on random weights, built for a small input (no checkpoint), and that input's side."""
    config = MODELS.get(name)
    side = SMALL_SIDE.get(config.architecture, config.input.size)
    options = _small_options(config, side)
    key = f"{config.architecture}:{sorted(options.items())!r}"
    if key not in backbones:
        torch.manual_seed(0)
        with torch.device("meta"):         # no random init to pay for (a ViT-B's takes seconds) ...
            backbone = build_backbone(config.architecture, **options)
        if next(backbone.buffers(), None) is None:
            backbone.to_empty(device="cpu")
            with torch.no_grad():
                for parameter in backbone.parameters():
                    parameter.normal_(0, 0.02)
        else:                              # ... unless init computes buffers (BN statistics, Swin's position index)
            backbone = build_backbone(config.architecture, **options)
        trunk = getattr(getattr(backbone, "visual", None), "trunk", None)
        if trunk is not None and hasattr(trunk, "set_input_size"):     # open_clip's timm trunk is built at 224
            trunk.set_input_size(img_size=side)
        backbones[key] = backbone
    return Encoder(config, backbones[key], {}, LoadReport(config.name, None, None, None)).eval(), side


@pytest.fixture
def one_thread():
    """Small tensors on shared, busy cores: a second intra-op thread mostly waits for the first (twice the time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", MODELS.names())
def test_every_entry_gets_a_segmentation_head_that_trains(name, backbones, one_thread):
    """The default head of each entry builds on it and trains on a small input; a U-Net reads maps that shrink."""
    encoder, side = small_encoder(name, backbones)
    model = SegmentationModel(encoder, decoder_channels=(16,) * 5, pup_channels=(16,) * 4, upernet_channels=16)
    assert model.kind == resolve_head(encoder.config)[0].kind
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    model.train()
    encoded = model.encode(x)                                  # what forward decodes (the frozen encoder runs once)
    if model.kind == "unet":
        sides = [m.shape[-1] for m in encoded]                 # the input, then the taps shallow to deep
        assert all(a > b for a, b in zip(sides, sides[1:])), f"{name}: a U-Net on same-size maps {sides}"
    out = model.decode(encoded, (side, side))
    assert out.shape == (2, 1, side, side) and torch.isfinite(out).all()
    out.mean().backward()
    assert model.trainable_parameters() and all(p.grad is not None for p in model.trainable_parameters())
    assert not any(p.requires_grad for p in encoder.parameters())


def test_swin_taps_each_stages_output_before_its_patch_merging(backbones, one_thread):
    encoder, side = small_encoder("medclip-vit", backbones)
    with torch.no_grad():
        features = encoder.encode(torch.randn(1, 3, side, side, generator=torch.Generator().manual_seed(0)))
        last = features.maps["stage3"].flatten(2).transpose(1, 2)
        assert [tuple(features.maps[t].shape[1:]) for t in encoder.config.taps] == [
            (96 * 2**i, side // 4 // 2**i, side // 4 // 2**i) for i in range(4)]
        # the deepest tap is the last stage's output: normed, it is the model's last hidden state
        torch.testing.assert_close(encoder.backbone.model.layernorm(last), features.tokens)


# ------------------------------------------------------------------------------------------ a run records it


@pytest.fixture(scope="module")
def small_rsna(tmp_path_factory) -> Path:
    """RSNA Pneumonia in its real layout (synthetic, 16 images) with its asgbench-v1 split lists."""
    from asgbench.data.splits import build_splits
    from asgbench.data.synthetic.context import PRESETS, SynthContext
    from asgbench.data.synthetic.writers import rsna

    from asgbench.data.synthetic import lung_shapes

    root = tmp_path_factory.mktemp("seg-heads")
    (root / "rsna").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        # the renderer's parametric lungs (its path without torchxrayvision's masks): this session's private cache
        # would otherwise extract the outline library from 517 masks first, for 16 images
        patch.setattr(lung_shapes, "lung_shapes", lambda: np.zeros((0, 2, 2 * lung_shapes.ROWS, 2), np.float32))
        rsna.write(SynthContext(root=root / "rsna", dataset="rsna", seed=0, workers=1,
                                preset=replace(PRESETS["tiny"], name="seg-heads", rsna=16)))
    build_splits("rsna", "asgbench-v1", root=root / "rsna", out=root / "splits" / "rsna" / "asgbench-v1", origin="synthetic")
    return root


def test_a_run_records_the_head_the_protocol_asked_for(small_rsna, tmp_path):
    from asgbench.tasks.data import load_task_data
    from asgbench.tasks.protocols import ProtocolJob
    from asgbench.tasks.segmentation import run_segmentation
    from asgbench.tasks.specs import TASKS

    data = load_task_data(TASKS.get("rsna-seg"), data_root=small_rsna, cache_dir=tmp_path)
    assert len(data.splits["train"]) % 5 == 1     # batches of 5 leave one image: an UPerNet's BN cannot train on it alone
    spec = protocol_for("segmentation", overrides=("segmentation_head=upernet", "upernet_channels=16", "max_epochs=1",
                                                   "batch_size=5", "augment=false"))
    outcome = run_segmentation(create_encoder("random-vit-tiny"), data, spec, ProtocolJob(seed=0))
    assert outcome.selection["decoder"] == "upernet"
    assert outcome.selection["decoder_head"] == {"kind": "upernet", "blocks": MRM_BLOCKS, "chosen_by": "protocol"}
    assert describe(spec)["segmentation_head"] == "upernet"
    assert 0 <= outcome.metrics["dice"]["value"] <= 1
