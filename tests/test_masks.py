import numpy as np
import pytest

from asgbench.data.masks import boxes_to_mask, rle_decode, rle_encode, rle_union


def test_relative_column_major_convention():
    # first run starts at absolute 3 (column 0, rows 3-4); the next starts 2 after its end (column 1, row 1)
    mask = rle_decode("3 2 2 1", shape=(4, 4))
    expected = np.zeros((4, 4), np.uint8)
    expected[3, 0] = 1  # index 3
    expected[0, 1] = 1  # index 4
    expected[3, 1] = 1  # index 7
    assert mask.tolist() == expected.tolist()
    assert rle_encode(mask) == "3 2 2 1"


def test_empty_and_union():
    assert rle_decode(" -1").sum() == 0
    assert rle_encode(np.zeros((8, 8))) == "-1"
    union = rle_union(["0 2", "1 3"], shape=(4, 4))
    assert union.reshape(-1, order="F")[:4].tolist() == [1, 1, 1, 1]


def test_malformed_rle_is_rejected():
    with pytest.raises(ValueError):
        rle_decode("1 2 3")
    with pytest.raises(ValueError):
        rle_decode("1048570 100")


def test_boxes_fill_as_int_casts():
    mask = boxes_to_mask([(1.7, 2.2, 3.9, 4.0)], (6, 6))
    assert mask.sum() == (4 - 2) * (3 - 1)
    assert mask[2, 1] == 1 and mask[4, 1] == 0


def test_every_real_siim_mask_round_trips_exactly(public_data):
    from asgbench.data.datasets.siim import read_rle_table

    table = read_rle_table(public_data.path_of(public_data.SIIM_RLE))
    assert len(table) == 12954
    mismatches = [rle for rle in table["EncodedPixels"] if rle_encode(rle_decode(rle)) != rle]
    assert mismatches == []
    assert (table["EncodedPixels"] != "-1").sum() > 3000
