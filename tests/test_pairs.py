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
    assert set(t.columns) >= {"image_id", "measure", "value", "status", "pair_kind", "arm", "backbone"}
    # Independent: bilinear upsampling (align_corners=False) + min-max, then skimage's PSNR with data range 1.
    up = [F.interpolate(torch.tensor(m, dtype=torch.float64)[None, None], size=(32, 32), mode="bilinear",
                        align_corners=False)[0, 0].numpy() for m in (a, b)]
    up = [(m - m.min()) / (m.max() - m.min()) for m in up]
    got = t[(t.image_id == "ok") & (t.measure == "psnr")].iloc[0]
    assert got.value == pytest.approx(peak_signal_noise_ratio(up[0], up[1], data_range=1.0), abs=1e-6)
    assert got.status == "ok" and bool(got.pri_identical) and got.backbone == "effnet"
    zero = t[t.image_id == "zero"].set_index("measure")
    assert (zero.status == "zero_map").all() and np.isnan(zero.loc["ncc", "value"])
    bad = t[t.image_id == "bad"]
    assert (bad.status == "error").all() and bad.value.isna().all()


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
    assert t[t.image_id == "i3"].status.iloc[0] == "error" and (t.backbone == "none").all()
