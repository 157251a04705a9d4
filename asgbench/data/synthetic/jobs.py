"""Render-and-write jobs for the synthetic suite, run in parallel worker processes.

Each job carries its own seed, so the bytes written do not depend on how jobs are spread over workers:
the same suite seed gives a byte-identical suite with any number of processes.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from asgbench.data.masks import rle_union
from asgbench.data.synthetic.dicom import DicomIdentity, DicomStyle, write_dicom
from asgbench.data.synthetic.render import render
from asgbench.data.synthetic.truth import ImageTruth


@dataclass
class ImageJob:
    """One image file to render: where it goes, what it shows and how it is stored."""

    relative_path: str
    truth: ImageTruth
    file_format: str                               # png | jpeg | dicom
    rgb: bool = False                              # photos of films in COVIDx sources are RGB
    lateral: bool = False
    dicom: DicomIdentity | None = None
    dicom_style: DicomStyle = field(default_factory=DicomStyle)
    pneumothorax_rles: tuple[str, ...] = ()        # SIIM: the mask the finding must fill
    mask_path: str | None = None                   # SIIM PNG re-pack: where to write the mask PNG


@dataclass(frozen=True)
class JobResult:
    relative_path: str
    regions: dict[str, tuple[float, float, float, float]]


def execute(root: str, job: ImageJob) -> JobResult:
    """Render ``job`` and write its file(s) below ``root``."""
    given = {"pneumothorax": rle_union(job.pneumothorax_rles)} if job.pneumothorax_rles else None
    if job.lateral:
        from asgbench.data.synthetic.lateral import render_lateral

        pixels, regions = render_lateral(job.truth), {}
    else:
        rendered = render(job.truth, given)
        pixels, regions = rendered.image, rendered.regions
    path = Path(root) / job.relative_path
    path.parent.mkdir(parents=True, exist_ok=True)
    if job.file_format == "dicom":
        if job.dicom is None:
            raise ValueError(f"{job.relative_path}: DICOM job without identity")
        write_dicom(path, pixels, job.dicom, job.dicom_style)
    elif job.file_format in ("png", "jpeg"):
        image = Image.fromarray(pixels, "L")
        if job.rgb:
            tint = np.stack([pixels, pixels, np.clip(pixels.astype(np.int16) + 6, 0, 255).astype(np.uint8)], axis=-1)
            image = Image.fromarray(tint, "RGB")
        if job.file_format == "png":
            image.save(path, format="PNG", compress_level=1)
        else:
            image.save(path, format="JPEG", quality=92)
    else:
        raise ValueError(f"unknown synthetic file format {job.file_format!r}")
    if job.mask_path is not None:
        mask = rle_union(job.pneumothorax_rles) if job.pneumothorax_rles else np.zeros(pixels.shape, np.uint8)
        mask_file = Path(root) / job.mask_path
        mask_file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((mask * 255).astype(np.uint8), "L").save(mask_file, format="PNG")
    return JobResult(job.relative_path, {k: tuple(round(v, 1) for v in box) for k, box in regions.items()})


def _execute_chunk(root: str, jobs: list[ImageJob]) -> list[JobResult]:
    return [execute(root, job) for job in jobs]


def run_jobs(root: Path, jobs: Sequence[ImageJob], *, workers: int | None = None, progress=None) -> list[JobResult]:
    """Run ``jobs`` (in order of results) with ``workers`` processes; ``progress(n)`` is told of each chunk."""
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(jobs) < 16:
        results = []
        for job in jobs:
            results.append(execute(str(root), job))
            if progress:
                progress(1)
        return results
    chunk = max(4, min(32, len(jobs) // (workers * 4) or 1))
    batches = [list(jobs[i : i + chunk]) for i in range(0, len(jobs), chunk)]
    results: list[JobResult] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        for batch_result in pool.map(_execute_chunk, [str(root)] * len(batches), batches):
            results.extend(batch_result)
            if progress:
                progress(len(batch_result))
    return results
