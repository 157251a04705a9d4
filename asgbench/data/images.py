"""Decode chest radiographs (JPEG, PNG, DICOM) to 8-bit grayscale and letterbox them to a square.

This is the only place that turns files into pixels, so every dataset and every encoder sees the same
conversion: DICOM modality/VOI LUTs and MONOCHROME1 inversion applied, high bit depths scaled to uint8,
then (for storage) the MGCA/ASG canonical form — longest side resized to 256, zero-padded to 256x256.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from asgbench.errors import ImageDecodeError

RASTER_SUFFIXES = (".jpg", ".jpeg", ".png")
DICOM_SUFFIXES = (".dcm", ".dicom")
CANONICAL_SIZE = 256


def read_image(path: str | Path) -> np.ndarray:
    """Return the image at ``path`` as a 2-D uint8 array (0 = black, as MONOCHROME2 displays)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ImageDecodeError(f"{path}: image file not found")
    if suffix in DICOM_SUFFIXES:
        return read_dicom(path)
    if suffix in RASTER_SUFFIXES:
        return read_raster(path)
    raise ImageDecodeError(f"{path}: expected a .jpg, .jpeg, .png or .dcm file, found suffix {suffix!r}")


def read_raster(path: Path) -> np.ndarray:
    """Decode a JPEG or PNG file fully (a truncated file is an error, never a half-grey image)."""
    try:
        with Image.open(path) as image:
            image.load()
            return _pil_to_gray_uint8(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{path}: cannot decode as {path.suffix.lstrip('.').upper()} image ({exc})") from exc


def _pil_to_gray_uint8(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return scale_to_uint8(np.asarray(image, dtype=np.float64))
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.uint8).copy()


def read_dicom(path: Path) -> np.ndarray:
    """Decode DICOM pixel data (uncompressed or JPEG-compressed) into display-ready uint8.

    Order as a viewer applies it: modality LUT (rescale slope/intercept), VOI LUT or window, then
    MONOCHROME1 inversion. 8-bit MONOCHROME2 images without a window are returned untouched.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
        raise ImageDecodeError(f"{path}: not a readable DICOM file ({exc})") from exc
    if "PixelData" not in dataset:
        raise ImageDecodeError(f"{path}: DICOM file has no pixel data (expected a PixelData element)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = dataset.pixel_array
    except Exception as exc:  # pydicom raises many types for codec and length problems
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "unknown")
        raise ImageDecodeError(
            f"{path}: cannot decode DICOM pixel data (transfer syntax {syntax}; {type(exc).__name__}: {exc})"
        ) from exc
    return dicom_pixels_to_uint8(dataset, pixels, path)


def dicom_pixels_to_uint8(dataset, pixels: np.ndarray, path: Path | str = "<dicom>") -> np.ndarray:
    """Apply the DICOM display pipeline to decoded ``pixels`` of ``dataset``."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    samples = int(getattr(dataset, "SamplesPerPixel", 1))
    if samples == 3:
        rgb = np.asarray(pixels)
        if rgb.ndim != 3 or rgb.shape[-1] != 3:
            raise ImageDecodeError(f"{path}: expected an HxWx3 RGB DICOM image, found shape {rgb.shape}")
        return np.asarray(Image.fromarray(rgb.astype(np.uint8), "RGB").convert("L"))
    if pixels.ndim == 3:  # multi-frame: the first frame is the radiograph
        pixels = pixels[0]
    if pixels.ndim != 2:
        raise ImageDecodeError(f"{path}: expected a 2-D grayscale DICOM image, found shape {pixels.shape}")

    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bits_stored = int(getattr(dataset, "BitsStored", 8) or 8)
    has_window = "WindowCenter" in dataset or "VOILUTSequence" in dataset
    has_rescale = float(getattr(dataset, "RescaleSlope", 1) or 1) != 1 or float(
        getattr(dataset, "RescaleIntercept", 0) or 0
    ) != 0

    if bits_stored <= 8 and not has_window and not has_rescale and pixels.dtype == np.uint8:
        image = pixels.astype(np.uint8, copy=True)
        max_value = 255
    else:
        values = apply_modality_lut(pixels, dataset)
        if has_window:
            values = apply_voi_lut(values, dataset, index=0)
        image = scale_to_uint8(np.asarray(values, dtype=np.float64))
        max_value = 255
    if photometric == "MONOCHROME1":
        image = (max_value - image).astype(np.uint8)
    elif photometric not in ("MONOCHROME2",):
        raise ImageDecodeError(f"{path}: expected MONOCHROME1/MONOCHROME2 or RGB DICOM, found {photometric!r}")
    return image


def scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Min-max scale any numeric image to 0..255 (a constant image becomes all zeros)."""
    low, high = float(np.min(values)), float(np.max(values))
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Letterbox:
    """The geometry of a letterbox resize, so boxes and masks follow their image exactly."""

    original_height: int
    original_width: int
    size: int
    scale: float
    pad_top: int
    pad_left: int
    new_height: int
    new_width: int

    @classmethod
    def fit(cls, height: int, width: int, size: int = CANONICAL_SIZE) -> Letterbox:
        scale = size / max(height, width)
        new_height = max(1, min(size, round(height * scale)))
        new_width = max(1, min(size, round(width * scale)))
        return cls(
            original_height=height,
            original_width=width,
            size=size,
            scale=scale,
            pad_top=(size - new_height) // 2,
            pad_left=(size - new_width) // 2,
            new_height=new_height,
            new_width=new_width,
        )

    def apply(self, image: np.ndarray, resample: Image.Resampling = Image.Resampling.BOX) -> np.ndarray:
        """Resize ``image`` (uint8 or float32 2-D) and zero-pad it to ``size`` x ``size``."""
        if image.shape != (self.original_height, self.original_width):
            raise ValueError(f"image shape {image.shape} does not match letterbox {self.original_height}x{self.original_width}")
        mode = "F" if image.dtype != np.uint8 else "L"
        source = Image.fromarray(image.astype(np.float32) if mode == "F" else image, mode)
        if (self.new_width, self.new_height) != (self.original_width, self.original_height):
            source = source.resize((self.new_width, self.new_height), resample)
        canvas = np.zeros((self.size, self.size), dtype=np.float32 if mode == "F" else np.uint8)
        canvas[self.pad_top : self.pad_top + self.new_height, self.pad_left : self.pad_left + self.new_width] = np.asarray(source)
        return canvas

    def apply_to_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Map (x1, y1, x2, y2) boxes in original pixels into the letterboxed frame."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        out = boxes * self.scale
        out[:, [0, 2]] += self.pad_left
        out[:, [1, 3]] += self.pad_top
        return out


def letterbox(image: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """Longest side resized to ``size`` with area averaging, then zero-padded to a centred square."""
    return Letterbox.fit(*image.shape[:2], size=size).apply(image)


def load_canonical(path: str | Path, size: int = CANONICAL_SIZE) -> np.ndarray:
    """Decode ``path`` and return the canonical stored form (``size`` x ``size`` uint8)."""
    return letterbox(read_image(path), size)
