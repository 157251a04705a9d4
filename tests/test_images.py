import numpy as np
import pytest
from PIL import Image

from asgbench.data.images import Letterbox, letterbox, read_image
from asgbench.data.synthetic.dicom import DicomIdentity, DicomStyle, kaggle_uids, write_dicom
from asgbench.errors import ImageDecodeError

GRADIENT = np.tile(np.arange(0, 250, 2, dtype=np.uint8), (100, 1))  # 100 x 125


def _identity():
    study, series, sop = kaggle_uids(6904, 1517875201, 850819)
    return DicomIdentity("0004cfab-14fd-4e49-80ba-63a80b6bddd6", study, series, sop)


@pytest.mark.parametrize("suffix,mode", [(".png", "L"), (".jpg", "L"), (".jpeg", "RGB")])
def test_raster_decodes_to_uint8_gray(tmp_path, suffix, mode):
    path = tmp_path / f"x{suffix}"
    image = Image.fromarray(GRADIENT).convert(mode)
    image.save(path, quality=98) if suffix != ".png" else image.save(path)
    pixels = read_image(path)
    assert pixels.dtype == np.uint8 and pixels.shape == GRADIENT.shape
    assert np.abs(pixels.astype(int) - GRADIENT).max() <= 3


def test_sixteen_bit_png_is_scaled(tmp_path):
    path = tmp_path / "x16.png"
    Image.fromarray((GRADIENT.astype(np.uint16) * 200)).save(path)
    pixels = read_image(path)
    assert pixels.min() == 0 and pixels.max() == 255


@pytest.mark.parametrize(
    "style,tolerance",
    [(DicomStyle(), 6), (DicomStyle(encoding="raw"), 0), (DicomStyle(encoding="raw", monochrome1=True), 0),
     (DicomStyle(monochrome1=True), 6), (DicomStyle(encoding="raw", bits=12), 3)],
)
def test_dicom_variants_display_the_same_picture(tmp_path, style, tolerance):
    """JPEG-baseline and raw pixel data, MONOCHROME1 inversion and a 12-bit VOI window all give the image back."""
    path = tmp_path / "x.dcm"
    write_dicom(path, GRADIENT, _identity(), style)
    pixels = read_image(path)
    reference = GRADIENT.astype(int)
    if style.bits == 12:  # the window maps the stored range onto 0..255
        reference = np.rint((reference - reference.min()) * 255 / (reference.max() - reference.min()))
    assert np.abs(pixels.astype(int) - reference).max() <= tolerance


def test_truncated_jpeg_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "view1_frontal.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8)).save(path, quality=95)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ImageDecodeError, match="view1_frontal.jpg"):
        read_image(path)


def test_dicom_without_pixel_data_is_an_error(tmp_path):
    import pydicom

    path = tmp_path / "nopixels.dcm"
    write_dicom(path, GRADIENT, _identity(), DicomStyle(encoding="raw"))
    dataset = pydicom.dcmread(path)
    del dataset.PixelData
    dataset.save_as(path)
    with pytest.raises(ImageDecodeError, match="nopixels.dcm.*no pixel data"):
        read_image(path)


def test_not_a_dicom_and_unknown_suffix(tmp_path):
    (tmp_path / "fake.dcm").write_text("hello")
    with pytest.raises(ImageDecodeError, match="fake.dcm"):
        read_image(tmp_path / "fake.dcm")
    (tmp_path / "a.tif").write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="expected a .jpg"):
        read_image(tmp_path / "a.tif")


def test_letterbox_geometry_and_boxes():
    image = np.full((100, 200), 200, dtype=np.uint8)
    out = letterbox(image, 256)
    assert out.shape == (256, 256)
    assert out[:63].max() == 0 and out[-63:].max() == 0  # 128 high band centred: pads of 64
    assert out[64:192].min() == 200
    box = Letterbox.fit(100, 200, 256).apply_to_boxes(np.array([[0, 0, 200, 100]]))
    assert box.tolist() == [[0.0, 64.0, 256.0, 192.0]]
