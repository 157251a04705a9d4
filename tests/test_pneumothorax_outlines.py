"""Pneumothoraces outside SIIM are drawn from real SIIM outlines that SIIM's own synthetic images never use."""
import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from asgbench.data.datasets.siim import read_rle_table
from asgbench.data.synthetic import public_rows
from asgbench.data.synthetic.pneumothorax_outlines import outline_for, outlines_by_side, reserved_for_other_datasets
from asgbench.data.synthetic.render import render
from asgbench.data.synthetic.truth import Finding, ImageTruth


def test_no_outline_is_both_a_siim_image_and_another_datasets_lesion(tiny_suite):
    siim_images = set(read_rle_table(tiny_suite / "siim" / "train-rle.csv")["ImageId"])
    assert siim_images and not any(reserved_for_other_datasets(i) for i in siim_images)
    outlines = outlines_by_side()
    used = {o.image_id for side in outlines.values() for o in side}
    assert used.isdisjoint(siim_images) and all(reserved_for_other_datasets(i) for i in used)
    table = public_rows.siim_rle()
    positives = table.loc[table["EncodedPixels"] != "-1", "ImageId"].nunique()
    assert 0.2 < len(used) / positives < 0.3                      # a quarter, by the ImageId's hash
    assert min(len(outlines["right"]), len(outlines["left"])) > 200


def test_each_outline_lies_on_the_side_it_is_filed_under():
    """The side comes from run arithmetic on the RLE; decoding every outline must agree with it."""
    for side, outlines in outlines_by_side().items():
        areas = [o.area for o in outlines]
        assert areas == sorted(areas)
        for outline in outlines:
            mask = outline.mask()
            centre = np.nonzero(mask)[1].mean()
            assert (centre < 512) == (side == "right"), (outline.image_id, side, centre)
            assert mask.sum() <= outline.area


def test_a_more_severe_finding_gets_a_larger_outline():
    def mean_area(severity: float) -> float:
        finding = Finding("pneumothorax", "right apical zone", severity)
        return float(np.mean([outline_for(finding, seed).sum() for seed in range(12)]))

    small, middle, large = mean_area(0.3), mean_area(0.7), mean_area(1.0)
    assert small < middle < large and large > 5 * small


@pytest.mark.parametrize("side", ["right", "left"])
def test_the_lesion_is_drawn_where_its_mask_says(side):
    """Same truth with and without the finding (the lesion draws no random numbers): only the mask gets darker."""
    finding = Finding("pneumothorax", f"{side} apical zone", 0.9)
    with_lesion = render(ImageTruth("ptx", 512, 512, seed=3, findings=[finding]))
    without = render(ImageTruth("ptx", 512, 512, seed=3, findings=[]))
    mask = with_lesion.pneumothorax_mask.astype(bool)
    columns = np.nonzero(mask)[1]
    assert mask.sum() > 100 and (columns.mean() < 256) == (side == "right")
    change = with_lesion.image.astype(float) - without.image.astype(float)
    assert change[mask].mean() < -20
    far = ~binary_dilation(mask, iterations=12)
    assert abs(change[far].mean()) < 1
