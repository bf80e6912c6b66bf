"""Measure shards of the workflow: heat-map pairs and raw image/PRI pairs into the long table."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from veiqa import pairs


def vei_row(image_id, a, b, error=""):
    h, w = a.shape
    return {"image_id": image_id, "map_h": h, "map_w": w, "cam_dist": a.ravel().astype(np.float32),
            "cam_pri": b.ravel().astype(np.float32), "error": error}


def test_vei_table_values_statuses_and_errors():
    rng = np.random.default_rng(0)
    a, b = rng.random((7, 7)), rng.random((7, 7))
    vei = pd.DataFrame([vei_row("ok", a, b), vei_row("zero", np.zeros((7, 7)), b),
                        {"image_id": "bad", "map_h": 0, "map_w": 0, "cam_dist": np.zeros(0, np.float32),
                         "cam_pri": np.zeros(0, np.float32), "error": "x.png: not an image"}])
    t = pairs.vei_table(vei, ["psnr", "ncc"], 32, "minmax", "effnet-pretrained-network", {"ok": True})
    assert list(t.image_id.unique()) == ["ok", "zero", "bad"]
    assert list(t.columns) == pairs.COLUMNS and "backbone" not in t  # what an arm is comes from its record
    # Independent: bilinear upsampling (align_corners=False) + min-max, then skimage's PSNR with data range 1.
    up = [F.interpolate(torch.tensor(m, dtype=torch.float64)[None, None], size=(32, 32), mode="bilinear",
                        align_corners=False)[0, 0].numpy() for m in (a, b)]
    up = [(m - m.min()) / (m.max() - m.min()) for m in up]
    got = t[(t.image_id == "ok") & (t.measure == "psnr")].iloc[0]
    assert got.value == pytest.approx(peak_signal_noise_ratio(up[0], up[1], data_range=1.0), abs=1e-6)
    assert got.status == "ok" and bool(got.pri_identical)
    zero = t[t.image_id == "zero"].set_index("measure")
    assert (zero.status == "zero_map").all() and np.isnan(zero.loc["ncc", "value"])
    bad = t[t.image_id == "bad"]
    assert (bad.status == "error").all() and bad.value.isna().all()
    # Direction, on every row (failed ones too): under the PRI paradigm a *less* similar pair means better quality;
    # PSNR rises with similarity (so False), NCC enters as |1 - NK|, which rises with dissimilarity (so True).
    hib = t.groupby("measure").measure_higher_is_better.unique()
    assert hib["psnr"].tolist() == [False] and hib["ncc"].tolist() == [True]
    assert t.measure_higher_is_better.dtype == bool


def test_image_table_groups_sizes_and_survives_bad_files(tmp_path):
    rng = np.random.default_rng(1)
    files = {}
    for i, shape in enumerate([(40, 50, 3), (40, 50, 3), (30, 30, 3)]):
        x = rng.integers(0, 256, shape, dtype=np.uint8)
        y = np.clip(x.astype(int) + rng.integers(-9, 10, shape), 0, 255).astype(np.uint8)
        Image.fromarray(x).save(tmp_path / f"d{i}.png")
        Image.fromarray(y).save(tmp_path / f"p{i}.png")
        files[f"i{i}"] = (x, y)
    (tmp_path / "d3.png").write_bytes(b"broken")
    rows = pd.DataFrame({"image_id": ["i0", "i1", "i2", "i3"], "path": [f"d{i}.png" for i in range(4)]})
    pri = pd.DataFrame({"image_id": ["i0", "i1", "i2", "i3"], "pri_path": [str(tmp_path / f"p{i}.png") for i in range(4)],
                        "identical": False, "error": ""})
    t = pairs.image_table(rows, tmp_path, pri, ["psnr"])
    assert list(t.image_id) == ["i0", "i1", "i2", "i3"]
    for k in ("i0", "i1", "i2"):
        x, y = files[k]
        assert t[t.image_id == k].value.iloc[0] == pytest.approx(peak_signal_noise_ratio(x, y, data_range=255), abs=1e-9)
    assert t[t.image_id == "i3"].status.iloc[0] == "error"
    assert not t.measure_higher_is_better.any()  # PSNR to the PRI: more similar = worse


def test_one_cell_maps_are_too_small_and_progress_is_logged_per_batch(caplog):
    import logging

    rng = np.random.default_rng(2)
    rows = [vei_row(f"p{i}", rng.random((5, 5)), rng.random((5, 5))) for i in range(5)]
    rows.append(vei_row("dot", np.ones((1, 1)), np.full((1, 1), 0.5)))
    log = logging.getLogger("test.measures_vei")
    with caplog.at_level(logging.INFO, logger="test.measures_vei"):
        t = pairs.vei_table(pd.DataFrame(rows), ["psnr", "ssim"], 16, "minmax", "effnet-pretrained-network",
                            log=log, batch_size=2)
    dot = t[t.image_id == "dot"]
    assert (dot.status == "too_small_for_network").all() and dot.value.isna().all()
    assert (t[t.image_id != "dot"].status == "ok").all()
    # Batching does not change values: the same pairs in one batch.
    whole = pairs.vei_table(pd.DataFrame(rows), ["psnr", "ssim"], 16, "minmax", "effnet-pretrained-network",
                            log=log, batch_size=100)
    pd.testing.assert_frame_equal(t, whole)
    lines = [r.getMessage() for r in caplog.records]
    # the one-cell pair, then batches of 2, 2, 1 of the five 5×5 pairs
    assert [ln.split(": ")[1].split(" pairs")[0] for ln in lines] == ["1/6", "3/6", "5/6", "6/6"]
    assert all("pairs/s" in ln for ln in lines)


def test_image_table_logs_progress(tmp_path, caplog):
    import logging

    rng = np.random.default_rng(3)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / f"d{i}.png")
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
    rows = pd.DataFrame({"image_id": ["a", "b", "c"], "path": [f"d{i}.png" for i in range(3)]})
    pri = pd.DataFrame({"image_id": ["a", "b", "c"], "pri_path": [str(tmp_path / f"p{i}.png") for i in range(3)],
                        "identical": False, "error": ""})
    with caplog.at_level(logging.INFO, logger="veiqa.pairs"):
        pairs.image_table(rows, tmp_path, pri, ["psnr"], batch_size=2)
    lines = [r.getMessage() for r in caplog.records if r.name == "veiqa.pairs"]
    assert [ln.split(": ")[1].split(" pairs")[0] for ln in lines] == ["2/3", "3/3"]
    assert "pairs/s" in lines[-1] and "in all" in lines[-1]
