"""Basel Face Model loaders, on tiny files written in exactly the BFM 2017 (.h5) and 2009 (.mat) layouts."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from gen.bfm import BFMConfig, load_bfm
from core.errors import FacesynthError
from core.rng import stream
from core.config import parse_model

V, K, KC, KE = 70, 4, 3, 2


def _orthonormal(rng, n, k):
    q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return q


def _mesh(rng):
    pts = rng.normal(0, 50, (V, 3))  # "mm"
    tris = np.array([[i, i + 1, i + 2] for i in range(V - 2)])
    return pts, tris


def write_bfm2017(path, rng, with_expression=True):
    pts, tris = _mesh(rng)
    with h5py.File(path, "w") as f:
        f["shape/representer/points"] = pts.T.astype(np.float32)  # (3, V)
        f["shape/representer/cells"] = tris.T.astype(np.uint32)  # (3, F), 0-based
        f["shape/model/mean"] = pts.reshape(-1).astype(np.float32)  # x1 y1 z1 x2 ...
        f["shape/model/pcaBasis"] = _orthonormal(rng, 3 * V, K).astype(np.float32)
        f["shape/model/pcaVariance"] = np.array([400.0, 100.0, 25.0, 4.0], np.float32)  # variances
        f["color/model/mean"] = rng.uniform(0.3, 0.7, 3 * V).astype(np.float32)
        f["color/model/pcaBasis"] = _orthonormal(rng, 3 * V, KC).astype(np.float32)
        f["color/model/pcaVariance"] = np.array([1.0, 0.25, 0.04], np.float32)
        if with_expression:
            f["expression/model/mean"] = np.zeros(3 * V, np.float32)
            f["expression/model/pcaBasis"] = _orthonormal(rng, 3 * V, KE).astype(np.float32)
            f["expression/model/pcaVariance"] = np.array([9.0, 1.0], np.float32)
    return pts, tris


def write_bfm2009(path, rng):
    pts, tris = _mesh(rng)
    pts_um = pts * 1000  # BFM 2009 is in micrometres
    scipy.io.savemat(path, {
        "shapeMU": pts_um.reshape(-1, 1), "shapePC": _orthonormal(rng, 3 * V, K),
        "shapeEV": np.array([[20000.0], [10000.0], [5000.0], [2000.0]]),  # standard deviations
        "texMU": rng.uniform(80, 180, (3 * V, 1)), "texPC": _orthonormal(rng, 3 * V, KC),
        "texEV": np.array([[30.0], [10.0], [3.0]]),
        "tl": (tris + 1).astype(np.float64),  # MATLAB: 1-based
    }, format="5")
    return pts, tris


def test_bfm2017_layout_and_conventions(tmp_path):
    rng = np.random.default_rng(0)
    pts, tris = write_bfm2017(tmp_path / "m.h5", rng)
    lm = list(range(68))
    m = load_bfm(BFMConfig(path=str(tmp_path / "m.h5"), format="bfm2017", landmarks68=lm))
    assert m.mean.shape == (V, 3) and m.shape_basis.shape == (K, V, 3) and m.expr_basis.shape == (KE, V, 3)
    np.testing.assert_allclose(m.mean, pts * 0.1, rtol=1e-5, atol=1e-4)  # mm -> cm
    np.testing.assert_array_equal(m.faces, tris)
    np.testing.assert_allclose(m.shape_std, [20, 10, 5, 2])  # sqrt of the stored variances
    with h5py.File(tmp_path / "m.h5") as f:
        col0 = f["shape/model/pcaBasis"][:, 0].reshape(V, 3)
    c = np.zeros(K, np.float32)
    c[0] = 1.0
    np.testing.assert_allclose(m.shape(c) - m.mean, col0 * 20 * 0.1, atol=1e-4)  # one std along mode 0
    s = m.sample(stream(0, 1, 0), psi=1.5)
    assert s["vertices"].shape == (V, 3) and s["albedo"].shape == (V, 3)
    assert np.abs(s["shape_coeffs"]).max() <= 1.5 and 0 <= s["albedo"].min() and s["albedo"].max() <= 1
    fm = m.as_face_model()
    np.testing.assert_allclose(fm.shape(c), m.shape(c), atol=1e-4)
    assert fm.landmarks68.tolist() == lm


def test_bfm2009_layout_and_conventions(tmp_path):
    rng = np.random.default_rng(1)
    pts, tris = write_bfm2009(tmp_path / "01_MorphableModel.mat", rng)
    m = load_bfm(BFMConfig(path=str(tmp_path / "01_MorphableModel.mat"), format="bfm2009"))
    np.testing.assert_allclose(m.mean, pts * 0.1, rtol=1e-4, atol=1e-3)  # µm -> cm, same mesh
    np.testing.assert_array_equal(m.faces, tris)  # 1-based tl became 0-based
    np.testing.assert_allclose(m.shape_std, [20000, 10000, 5000, 2000])  # shapeEV is already a std
    d = scipy.io.loadmat(tmp_path / "01_MorphableModel.mat")
    c = np.array([0, 1, 0, 0], np.float32)
    np.testing.assert_allclose(m.shape(c) - m.mean, d["shapePC"][:, 1].reshape(V, 3) * 10000 * 1e-4, atol=1e-4)
    np.testing.assert_allclose(m.color_mean, d["texMU"].reshape(V, 3) / 255, atol=1e-6)
    assert m.expr_basis.shape[0] == 0
    assert m.sample(stream(0, 1, 1))["albedo"].shape == (V, 3)


def test_bfm_bad_input(tmp_path):
    rng = np.random.default_rng(2)
    with pytest.raises(FacesynthError, match="no such file"):
        load_bfm(BFMConfig(path=str(tmp_path / "missing.h5"), format="bfm2017"))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(FacesynthError, match="junk.h5: not an HDF5"):
        load_bfm(BFMConfig(path=str(tmp_path / "junk.h5"), format="bfm2017"))
    write_bfm2017(tmp_path / "m.h5", rng)
    with h5py.File(tmp_path / "m.h5", "a") as f:
        del f["color/model/pcaBasis"]
    with pytest.raises(FacesynthError, match="/color/model/pcaBasis"):
        load_bfm(BFMConfig(path=str(tmp_path / "m.h5"), format="bfm2017"))
    write_bfm2017(tmp_path / "ok.h5", rng)
    with pytest.raises(FacesynthError, match="bfm.landmarks68.*out of range"):
        load_bfm(BFMConfig(path=str(tmp_path / "ok.h5"), format="bfm2017", landmarks68=list(range(1000, 1068))))
    with pytest.raises(FacesynthError, match="landmarks68"):
        parse_model(BFMConfig, {"path": "x", "format": "bfm2017", "landmarks68": [1, 2, 3]}, "gen.yaml")
    scipy.io.savemat(tmp_path / "bad.mat", {"shapeMU": np.zeros((3 * V, 1))})
    with pytest.raises(FacesynthError, match="no variable shapePC"):
        load_bfm(BFMConfig(path=str(tmp_path / "bad.mat"), format="bfm2009"))


def test_models_import_bfm2017_writes_a_geometry_model(tmp_path, monkeypatch):
    from gen import registry
    from gen.modelcache import read_cached
    from gen.uvmaps import face_layout
    monkeypatch.setenv("FACESYNTH_HOME", str(tmp_path / "home"))
    pts, tris = write_bfm2017(tmp_path / "m.h5", np.random.default_rng(3))
    with pytest.raises(FacesynthError, match="pass your Basel Face Model file"):
        registry.import_model("bfm2017")
    registry.import_model("bfm2017", tmp_path / "m.h5")
    fm = read_cached("bfm2017", tmp_path / "home" / "models")
    np.testing.assert_allclose(fm.neutral, pts * 0.1, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(fm.faces, tris)
    assert fm.n_identity == K and len(fm.expr_names) == KE
    with pytest.raises(FacesynthError, match="no UV layout"):
        face_layout(fm, 64)
