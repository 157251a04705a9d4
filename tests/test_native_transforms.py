"""Each entry's native transform against its authors' own pipeline, rebuilt here from torchvision, PIL and open_clip
with the authors' parameters, on the same image; the store a run reads; the transform in results and feature
cache keys; ``--transform standard`` and its errors."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision import transforms as T

from asgbench.cli import main
from asgbench.data.images import Letterbox, letterbox, read_image
from asgbench.encoders import MODELS
from asgbench.encoders.config import IMAGENET_MEAN, IMAGENET_STD, InputSpec
from asgbench.encoders.loading import LoadReport
from asgbench.encoders.model import Encoder

BICUBIC, NEAREST = T.InterpolationMode.BICUBIC, T.InterpolationMode.NEAREST
OPENAI = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


def _grey(mean: float, std: float) -> T.Normalize:
    return T.Normalize([mean], [std])


# Each authors' evaluation pipeline as (geometry on a PIL image with their filter, then to a tensor). The geometry
# reads the original as the store keeps it (``content``, at the store's scale) or the letterboxed frame (``frame``);
# masks go through the same geometry with NEAREST. Citations are in the entries' modules (baselines/*.py).
def rgb(image: Image.Image, f) -> Image.Image:
    """``.convert("RGB")`` as the authors' loaders do, for images (``f`` None); masks stay one channel."""
    return image.convert("RGB") if f is None else image


def mgca_like(mean, std):         # letterbox 256 (the store's frame), CenterCrop(224)
    return lambda content, frame, f: T.CenterCrop(224)(rgb(frame, f)), T.Compose([T.ToTensor(), T.Normalize(mean, std)])


def stretch(size, mean, std, interpolation=T.InterpolationMode.BILINEAR):   # MedKLIP, KAD: Resize([s, s])
    return (lambda content, frame, f: T.Resize([size, size], interpolation=f or interpolation)(rgb(content, f)),
            T.Compose([T.ToTensor(), T.Normalize(mean, std)]))


def medclip(content, frame, f):   # MedCLIPFeatureExtractor: pad_img, PIL resize 224 bicubic, centre crop 224
    side = max(224, *content.size)
    square = Image.new("L", (side, side), 0)
    square.paste(content, (int((side - content.size[0]) / 2), int((side - content.size[1]) / 2)))
    return T.CenterCrop(224)(square.resize((224, 224), Image.Resampling.BICUBIC if f is None else f))


def benchx(content, frame, f):    # BenchX NIHTransforms and MRM: Resize(224), CenterCrop(224), Grayscale(3)
    resized = T.CenterCrop(224)(T.Resize(224, interpolation=f or T.InterpolationMode.BILINEAR)(rgb(content, f)))
    return resized if f is not None else T.Grayscale(3)(resized)


def biovil(content, frame, f):    # hi-ml: Resize(512), CenterCrop(480) of the mode-L image
    return T.CenterCrop(480)(T.Resize(512, interpolation=f or T.InterpolationMode.BILINEAR)(content))


def open_clip_eval(content, frame, f):
    if f is not None:             # open_clip's geometry (Resize shortest, CenterCrop) for the mask
        return T.CenterCrop(224)(T.Resize(224, interpolation=f)(content))
    import open_clip

    return open_clip.image_transform(224, is_train=False, mean=OPENAI[0], std=OPENAI[1])(content)


REFERENCES = {
    "mgca-r50": mgca_like((0.5,) * 3, (0.5,) * 3), "mgca-vit": mgca_like((0.5,) * 3, (0.5,) * 3),
    "gloria": mgca_like((0.5,) * 3, (0.5,) * 3), "asg-vit": mgca_like(IMAGENET_MEAN, IMAGENET_STD),
    "asg-r50": mgca_like(IMAGENET_MEAN, IMAGENET_STD),
    "medklip": stretch(224, IMAGENET_MEAN, IMAGENET_STD),
    "kad": stretch(512, IMAGENET_MEAN, IMAGENET_STD, BICUBIC), "kad-224": stretch(224, IMAGENET_MEAN, IMAGENET_STD, BICUBIC),
    "medclip-r50": (medclip, T.Compose([T.ToTensor(), _grey(0.5862785803043838, 0.27950088968644304)])),
    "medclip-vit": (medclip, T.Compose([T.ToTensor(), _grey(0.5862785803043838, 0.27950088968644304)])),
    "mrm": (benchx, T.Compose([T.ToTensor(), _grey(0.4978, 0.2449)])),
    "convirt": (benchx, T.Compose([T.ToTensor(), _grey(0.4978, 0.2449)])),
    "biovil": (biovil, T.ToTensor()),
    "biomedclip": (open_clip_eval, None),
}
# Entries whose authors publish no evaluation transform of their own: MGCA/ASG's, which is also the standard one.
NO_AUTHORS_TRANSFORM = {"random-r50", "random-vit", "random-r18", "random-vit-tiny", "imagenet-r50", "imagenet-vit",
                        "asg-r18", "asg-vit-tiny"}


def encoder_of(name: str) -> Encoder:
    """The entry's Encoder with an identity backbone: preprocessing needs no weights."""
    return Encoder(MODELS.get(name), nn.Identity(), {}, LoadReport(name, None, None, None))


def radiograph(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A non-square stand-in with structure at every scale (ramps, a disc, noise) so that filters differ."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    disc = ((y - 0.45) ** 2 + (x - 0.5) ** 2 < 0.05) * 90.0
    return np.clip(40 + 120 * y + 50 * np.sin(25 * x) + disc + rng.normal(0, 18, (height, width)), 0, 255).astype(np.uint8)


def stored(original: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The store's letterboxed image of ``original`` and its content box (top, left, height, width)."""
    box = Letterbox.fit(*original.shape, size=side)
    return box.apply(original), np.array([[box.pad_top, box.pad_left, box.new_height, box.new_width]])


def reference(name: str, frame: np.ndarray, box: np.ndarray, mask: bool = False) -> torch.Tensor:
    top, left, height, width = box[0]
    content = Image.fromarray(frame[top : top + height, left : left + width], "L")
    geometry, to_tensor = REFERENCES[name]
    pil = Image.fromarray(frame, "L")
    if mask:
        return T.PILToTensor()(geometry(content, pil, Image.Resampling.NEAREST if name.startswith("medclip") else NEAREST))[None].float()
    out = geometry(content, pil, None)
    tensor = out if to_tensor is None else to_tensor(out)
    return tensor.expand(3, -1, -1)[None]


@pytest.mark.parametrize("shape", [(300, 246), (230, 281)], ids=["portrait", "landscape"])
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_native_transform_equals_the_authors_pipeline(name, shape):
    encoder = encoder_of(name)
    frame, box = stored(radiograph(*shape), encoder.transform.store)
    ours = encoder.preprocess(torch.from_numpy(frame)[None], box)
    theirs = reference(name, frame, box)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    # and the padding is not what they read: the same image without its content box gives other pixels
    if encoder.transform.geometry != "letterbox":
        assert (encoder.preprocess(torch.from_numpy(frame)[None]) - theirs).abs().max() > 0.1


@pytest.mark.parametrize("name", ["mgca-vit", "medklip", "kad", "medclip-r50", "convirt", "biovil", "biomedclip"])
def test_masks_follow_the_same_geometry_with_nearest(name):
    encoder = encoder_of(name)
    original = np.zeros((300, 246), dtype=np.uint8)
    original[60:170, 30:140] = 255
    frame, box = stored(original, encoder.transform.store)
    frame = (frame >= 128).astype(np.uint8) * 255   # a binary mask in the store's frame, as build_masks makes them
    ours = encoder.preprocess_masks(torch.from_numpy(frame // 255)[None], box)
    torch.testing.assert_close(ours * 255, reference(name, frame, box, mask=True), rtol=0, atol=0)


def test_chexzero_resizes_its_320_letterbox_as_a_tensor_without_antialiasing():
    """zero_shot.py: Normalize on 0..255 values, then torchvision Resize(224, BICUBIC) of the tensor (0.11: no antialias)."""
    encoder = encoder_of("chexzero")
    assert encoder.transform.store == 320
    frame, box = stored(radiograph(300, 246), 320)
    pixels = torch.from_numpy(frame).float().expand(3, -1, -1)
    theirs = T.Compose([T.Normalize((101.48761,) * 3, (83.43944,) * 3), T.Resize(224, BICUBIC, antialias=False)])(pixels)
    torch.testing.assert_close(encoder.preprocess(torch.from_numpy(frame)[None], box), theirs[None], rtol=0, atol=2e-5)


def test_every_entry_has_a_reference_or_is_declared_without_one():
    covered = set(REFERENCES) | {"chexzero"} | NO_AUTHORS_TRANSFORM
    assert set(MODELS.names()) <= covered, f"entries without a reference transform: {set(MODELS.names()) - covered}"
    for name in NO_AUTHORS_TRANSFORM:   # these use MGCA/ASG's, which is the standard one
        spec = MODELS.get(name).input
        assert replace(spec.standard(), name="native") == spec


def test_standard_gives_the_same_tensor_to_every_entry_that_shares_mean_and_std():
    frame, box = stored(radiograph(300, 246), 256)
    images = torch.from_numpy(frame)[None]
    by_normalisation: dict[tuple, torch.Tensor] = {}
    for name in MODELS.names():
        encoder = encoder_of(name)
        spec = encoder.transform.select("standard", "nih")
        encoder.use_transform(spec)
        x = encoder.preprocess(images, box)
        assert spec.describe()["name"] == "standard" and x.shape == (1, spec.channels, 224, 224)
        key = (spec.mean, spec.std, spec.channels)
        if key in by_normalisation:
            assert torch.equal(x, by_normalisation[key]), name
        by_normalisation.setdefault(key, x)
        # undoing each entry's own normalisation leaves MGCA/ASG's crop for all of them
        undone = x * torch.tensor(spec.std).view(1, -1, 1, 1) + torch.tensor(spec.mean).view(1, -1, 1, 1)
        torch.testing.assert_close(undone, torch.from_numpy(frame[16:240, 16:240] / 255.0).float().expand(1, 3, -1, -1))
    assert len(by_normalisation) >= 6


def test_per_dataset_statistics_are_chosen_by_the_dataset():
    spec = InputSpec(224, (0.5,) * 3, (0.5,) * 3, dataset_stats=(("rsna", (0.4904,) * 3, (0.248,) * 3),))
    assert spec.select("native", "rsna").mean == (0.4904,) * 3 and spec.select("native", "nih").mean == (0.5,) * 3
    assert spec.select("standard", "rsna").std == (0.248,) * 3
    with pytest.raises(ValueError, match="crop applies to the letterbox geometry only"):
        InputSpec(geometry="stretch")


@pytest.mark.slow
def test_a_kad_run_reads_a_512_store_decoded_from_the_original_files(tiny_suite, tmp_path):
    from asgbench.data.datasets import read_index
    from asgbench.run import RunContext, RunSpec, load_run_data, resolve

    checkpoint = tmp_path / "best_valid.pt"
    checkpoint.write_bytes(b"only hashed by resolve")
    context = RunContext(data_root=tiny_suite, cache_dir=tmp_path / "cache")
    resolved = resolve(RunSpec(model="kad", task="rsna-lp", checkpoint=str(checkpoint)), context)
    assert resolved.transform.store == 512 and resolved.transform.size == 512
    data = load_run_data(resolved, context)
    assert data.store.size == 512 and data.store.images.shape[1:] == (512, 512)
    index = read_index("rsna", tiny_suite / "rsna")
    paths = dict(zip(index.frame["image_id"], index.frame["path"]))
    def detail(image: np.ndarray) -> float:
        return float(np.abs(np.diff(image.astype(int), axis=1)).mean())

    for image_id in data.splits["test"].image_ids[:3]:
        original = read_image(index.root / paths[image_id])
        assert max(original.shape) > 512 and np.array_equal(data.store.get(image_id), letterbox(original, 512))
        upsampled = np.asarray(Image.fromarray(letterbox(original, 256)).resize((512, 512), Image.Resampling.BILINEAR))
        assert detail(data.store.get(image_id)) > detail(upsampled)   # detail a 256 store no longer has


@pytest.mark.slow
def test_results_record_the_transform_and_standard_is_its_own_run(tiny_suite, tmp_path, capsys):
    from asgbench.results import read_result

    base = ["run", "--model", "random-r18", "--task", "rsna-lp", "--data-root", str(tiny_suite), "--out", str(tmp_path / "runs"),
            "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    results = {}
    for transform in ("native", "standard"):
        assert main(base + ["--transform", transform]) == 0
        run_id = capsys.readouterr().out.split(":", 1)[0].strip()
        results[transform] = read_result(tmp_path / "runs" / f"{run_id}.json")
    native, standard = results["native"], results["standard"]
    assert native["spec"]["transform"] == "native" and standard["spec"]["transform"] == "standard"
    assert native["encoder"]["transform"] == MODELS.get("random-r18").input.describe()
    assert standard["encoder"]["transform"]["name"] == "standard" and native["run_id"] != standard["run_id"]
    # a native run's identity is what it was before transforms were selectable: finished runs keep their run_ids
    from asgbench.run import RunContext, RunSpec, resolve

    identity = resolve(RunSpec(model="random-r18", task="rsna-lp"), RunContext(data_root=tiny_suite)).identity
    assert "transform" not in identity and native["run_id"].endswith(
        __import__("hashlib").sha256(__import__("json").dumps(identity, sort_keys=True).encode()).hexdigest()[:12])


def test_a_bad_transform_name_is_a_one_line_error(tiny_suite, tmp_path, capsys):
    code = main(["run", "--model", "random-r18", "--task", "rsna-lp", "--transform", "nativ", "--data-root", str(tiny_suite),
                 "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unknown transform 'nativ'" in err and "native, standard" in err


def test_the_feature_cache_key_changes_with_the_transform(tiny_suite, tmp_path):
    from asgbench.data.datasets import read_index
    from asgbench.data.store import build_store
    from asgbench.encoders import create_encoder
    from asgbench.tasks.features import cached_features

    store = build_store(read_index("covidx", tiny_suite / "covidx"), cache_dir=tmp_path / "stores")
    ids = store.image_ids[:6]
    encoder = create_encoder("random-r18")
    native = cached_features(encoder, store, ids, tmp_path)
    encoder.use_transform(encoder.transform.standard())     # the same pixels under another name: the same entry
    assert cached_features(encoder, store, ids, tmp_path).key == native.key
    encoder.use_transform(replace(MODELS.get("medklip").input, mean=encoder.transform.mean, std=encoder.transform.std))
    stretched = cached_features(encoder, store, ids, tmp_path)
    assert not stretched.hit and stretched.key != native.key
    assert not np.allclose(stretched.features, native.features)
