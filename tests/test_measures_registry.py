"""The measures registry (veiqa.specs.MEASURES) is the one home of a measure: the configuration allows exactly its
names, compute dispatches every one of them to the function it names, and a measure registered from outside (here a
test's toy) is accepted by the configuration and computed, with nothing else to edit."""

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO
from veiqa import config as vc
from veiqa import measures as M
from veiqa import specs
from veiqa.measures._common import grey as to_grey


def test_schema_enums_are_the_registry():
    schema = vc.load_schema()
    names = list(specs.MEASURES)
    assert schema["properties"]["measures"]["items"]["enum"] == names
    assert schema["properties"]["aggregate"]["properties"]["table_measure"]["enum"] == names
    # the YAML file itself names no measure: the registry is the only list
    raw = yaml.safe_load(vc.SCHEMA_PATH.read_text())
    assert "enum" not in raw["properties"]["measures"]["items"]
    assert "enum" not in raw["properties"]["aggregate"]["properties"]["table_measure"]


def test_schema_default_measures_are_registered():
    cfg = vc.validate({"datasets": {"d": {"loader": "demo"}}})
    assert set(cfg["measures"]) <= set(specs.MEASURES) and cfg["aggregate"]["table_measure"] in specs.MEASURES


def _pair(channels=3, n=3, side=176, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, side, side, generator=g, dtype=torch.float64) * 255
    y = (x + 20 * torch.randn(n, channels, side, side, generator=g, dtype=torch.float64)).clamp(0, 255)
    return x, y


@pytest.mark.parametrize("name", list(specs.MEASURES))
def test_dispatch_calls_the_function_the_registry_names(name):
    """compute's value of every registered measure is its registry function's value on the pair it should see (the
    grey image for ``grey`` measures; the joint function's entry for the SSIM family): a measure routed to another
    function, or given the wrong input, differs."""
    spec = specs.MEASURES[name]
    x, y = _pair()
    got, status = M.compute(x, y, [name], mode="image", data_range=255.0)
    a, b = (to_grey(x, "rgb2gray", 255.0), to_grey(y, "rgb2gray", 255.0)) if spec.grey else (x, y)
    fn = spec.function()
    want = fn(a, b, 255.0, [name])[name] if spec.joint else fn(a, b, 255.0)
    assert torch.isfinite(got[name]).all() and status[name] == ["ok"] * 3
    torch.testing.assert_close(got[name].double(), want.double(), rtol=1e-6, atol=0)


def test_no_two_entries_compute_the_same():
    """Each entry names its own computation: on a pair large enough for ssim.m to downsample (f = 2, so ssim and
    ssim_nodownsample differ), no two measures give the same numbers."""
    x, y = _pair(n=1, side=384)
    allv, _ = M.compute(x, y, mode="image", data_range=255.0)
    rows = {n: round(float(v[0]), 9) for n, v in allv.items()}
    assert list(rows) == list(specs.MEASURES) and len(set(rows.values())) == len(rows), rows


def test_every_entry_names_an_importable_function():
    for spec in specs.MEASURES.values():
        assert callable(spec.function()), spec.name
    with pytest.raises(ValueError, match="module:function"):
        specs.MeasureSpec("bad", True, 1, "all channels", "no function").function()


def mean_abs_diff(x, y, data_range):
    """The toy measure: mean |x − y| over every sample, in units of the data range (lower is better)."""
    return (x - y).abs().flatten(1).double().mean(1) / (data_range.reshape(-1) if torch.is_tensor(data_range)
                                                         else data_range)


@pytest.fixture()
def toy():
    spec = specs.register(specs.MeasureSpec("toy_mad", False, 4, "all channels", "mean absolute difference",
                                            fn=mean_abs_diff, reference="a test's toy"))
    try:
        yield spec
    finally:
        specs.unregister("toy_mad")
    assert "toy_mad" not in specs.MEASURES


def test_a_registered_measure_is_configured_and_computed(toy):
    cfg = vc.load({"datasets": {"d": {"loader": "demo"}}, "measures": ["psnr", "toy_mad"],
                   "aggregate": {"table_measure": "toy_mad"}}, check_paths=False)
    assert cfg["measures"] == ["psnr", "toy_mad"]
    x, y = _pair(n=2, side=8)
    vals, status = M.compute(x, y, ["toy_mad", "psnr"], mode="image")
    want = np.abs(x.numpy() - y.numpy()).reshape(2, -1).mean(1) / 255.0  # numpy, by hand
    np.testing.assert_allclose(vals["toy_mad"].numpy(), want, rtol=1e-12)
    assert status["toy_mad"] == ["ok", "ok"]
    # the registry's min_size applies to it as to the built-in measures
    small, st = M.compute(x[:, :, :3, :3], y[:, :, :3, :3], ["toy_mad"], mode="image")
    assert torch.isnan(small["toy_mad"]).all() and st["toy_mad"] == ["too_small"] * 2
    table = M.measure_table(["a", "b"], x, y, ["toy_mad"], mode="image")
    np.testing.assert_allclose(table["value"].to_numpy(), want, rtol=1e-6)  # float32 in image mode
    with pytest.raises(ValueError, match="already registered"):
        specs.register(toy)


def test_an_unregistered_measure_is_rejected():
    with pytest.raises(vc.ConfigError, match=r"'measures.1': 'toy_mad' is not allowed; allowed values: 'psnr'"):
        vc.load({"datasets": {"d": {"loader": "demo"}}, "measures": ["psnr", "toy_mad"]}, check_paths=False)
    with pytest.raises(ValueError, match="unknown measure"):
        M.compute(*_pair(n=1, side=8), ["toy_mad"])


def test_the_configuration_page_lists_the_registry():
    page = (REPO / "docs" / "configuration.md").read_text()
    for spec in specs.MEASURES.values():
        better = f"closest to {spec.ideal:g}" if spec.ideal is not None else \
            ("higher" if spec.higher_is_better else "lower")
        assert f"| `{spec.name}` | {better} |" in page, spec.name
