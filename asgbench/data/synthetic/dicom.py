"""Write synthetic radiographs as DICOM files shaped like the RSNA and SIIM Kaggle releases.

Real files are Secondary Capture objects with JPEG-baseline pixel data; the default here is the same, so the
loader's codec path is exercised. Uncompressed, MONOCHROME1 and 12-bit windowed variants exist to test the
other branches of the display pipeline.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
UID_ROOT = "1.2.276.0.7230010.3.1"


@dataclass(frozen=True)
class DicomStyle:
    """How the pixel data is stored."""

    encoding: str = "jpeg"          # "jpeg" (JPEG baseline 8-bit) or "raw" (explicit VR little endian)
    monochrome1: bool = False       # store inverted pixels labelled MONOCHROME1
    bits: int = 8                   # 8, or 12 stored in 16 with a VOI window


@dataclass(frozen=True)
class DicomIdentity:
    patient_id: str
    study_uid: str
    series_uid: str
    sop_uid: str
    view: str = "PA"
    sex: str = "M"
    age: str = "45"
    pixel_spacing: float = 0.168
    series_description: str = ""


def kaggle_uids(n: int, timestamp: int, k: int) -> tuple[str, str, str]:
    """Study / series / instance UIDs in the pattern of the RSNA and SIIM files (``...3.1.{2,3,4}.8323329.n.ts.k``)."""
    return (
        f"{UID_ROOT}.2.8323329.{n}.{timestamp}.{k - 1}",
        f"{UID_ROOT}.3.8323329.{n}.{timestamp}.{k - 2}",
        f"{UID_ROOT}.4.8323329.{n}.{timestamp}.{k}",
    )


def write_dicom(path: Path, pixels: np.ndarray, identity: DicomIdentity, style: DicomStyle = DicomStyle()) -> None:
    """Write ``pixels`` (uint8, display orientation, MONOCHROME2 sense) as a CR Secondary Capture DICOM."""
    import pydicom

    with warnings.catch_warnings():
        # Kaggle's files carry ages like "51", which pydicom flags as invalid AS values; keep them as released.
        warnings.simplefilter("ignore", UserWarning)
        dataset = _build_dataset(path, pixels, identity, style)
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, dataset, enforce_file_format=True)


def _build_dataset(path: Path, pixels: np.ndarray, identity: DicomIdentity, style: DicomStyle):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, PYDICOM_IMPLEMENTATION_UID

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = identity.sop_uid
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.TransferSyntaxUID = JPEGBaseline8Bit if style.encoding == "jpeg" else ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = identity.sop_uid
    ds.StudyDate = "19010101"
    ds.StudyTime = ""
    ds.AccessionNumber = ""
    ds.Modality = "CR"
    ds.ConversionType = "WSD"
    ds.ReferringPhysicianName = ""
    ds.SeriesDescription = identity.series_description or f"view: {identity.view}"
    ds.PatientName = identity.patient_id
    ds.PatientID = identity.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = identity.sex
    ds.PatientAge = identity.age
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = identity.view
    ds.StudyInstanceUID = identity.study_uid
    ds.SeriesInstanceUID = identity.series_uid
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.SamplesPerPixel = 1
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.PixelSpacing = [identity.pixel_spacing, identity.pixel_spacing]
    ds.PixelRepresentation = 0

    stored = 255 - pixels if style.monochrome1 else pixels
    ds.PhotometricInterpretation = "MONOCHROME1" if style.monochrome1 else "MONOCHROME2"
    if style.bits == 12:
        if style.encoding == "jpeg":
            raise ValueError("12-bit synthetic DICOMs are written uncompressed")
        values = stored.astype(np.uint16) * 16 + 8  # 0..4095 with a window that maps back onto 0..255
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.WindowCenter, ds.WindowWidth = 2048, 4096
        ds.PixelData = values.tobytes()
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        if style.encoding == "jpeg":
            buffer = io.BytesIO()
            Image.fromarray(stored.astype(np.uint8), "L").save(buffer, format="JPEG", quality=95)
            ds.LossyImageCompression = "01"
            ds.PixelData = encapsulate([buffer.getvalue()])
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
        else:
            ds.PixelData = stored.astype(np.uint8).tobytes()
    return ds
