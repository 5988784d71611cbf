"""Identity sampling: determinism across processes, order independence, near-twin rejection."""
from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from gen import identity as gi
from gen.config import GenConfig
from core.errors import FacesynthError

N = 1000
SEED = 1234


def _cfg(min_distance: float = 11.0) -> GenConfig:
    # spread 1: the threshold is in the model's own std units (two draws lie ~14 apart).
    return GenConfig.model_validate({"identity": {"min_distance": min_distance, "max_tries": 200, "spread": 1.0}})


def _in_processes(cfg: GenConfig, indices: list[int], workers: int, maps: bool) -> dict[int, str]:
    """Hash `indices` in `workers` fresh processes, interleaved (worker w gets i % workers == w)."""
    parts = [indices[w::workers] for w in range(workers)]
    ctx = mp.get_context("spawn")  # fresh interpreters: no state inherited from this one
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futs = [pool.submit(gi.identity_hashes, cfg.model_dump_json(), SEED, p, maps) for p in parts]
        out = {}
        for f in futs:
            out.update(f.result())
    return out


def test_one_vs_two_processes_identical(face_model):
    """1,000 identities' coefficients and attributes, and the first 250 whole (vertices, 512² maps
    and colours too; the maps are most of the cost), hash the same when made in one process and
    in two."""
    cfg = _cfg()
    for n, maps in ((N, False), (250, True)):
        idx = list(range(n))
        # Worker order is reversed in the 2-process run: each process asks for its indices from
        # the highest down, so no process computes identities in dataset order.
        one = _in_processes(cfg, idx, 1, maps=maps)
        two = _in_processes(cfg, idx[::-1], 2, maps=maps)
        assert len(one) == n and one == two
        assert len(set(one.values())) == n


def test_no_near_twins_and_rejection_happens(face_model):
    cfg = _cfg(11.0)
    c = np.stack([gi.identity_coeffs(face_model, cfg, SEED, i) for i in range(N)]).astype(np.float64)
    d2 = (c ** 2).sum(1)[:, None] + (c ** 2).sum(1)[None] - 2 * c @ c.T
    np.fill_diagonal(d2, np.inf)
    assert np.sqrt(d2.clip(0).min()) >= 11.0
    tries = [gi.identity_tries(face_model, cfg, SEED, i) for i in range(N)]
    assert sum(t > 0 for t in tries) > 10  # the threshold is active, so the check above means something
    # Without rejection the same seeds do produce closer pairs.
    c0 = np.stack([gi.identity_coeffs(face_model, _cfg(0.0), SEED, i) for i in range(N)]).astype(np.float64)
    d0 = (c0 ** 2).sum(1)[:, None] + (c0 ** 2).sum(1)[None] - 2 * c0 @ c0.T
    np.fill_diagonal(d0, np.inf)
    assert np.sqrt(d0.clip(0).min()) < 11.0


def test_order_independent_in_one_process(face_model):
    cfg = _cfg()
    gi._SEQUENCES.clear()
    late = gi.identity_coeffs(face_model, cfg, SEED, 700)
    gi._SEQUENCES.clear()
    seq = [gi.identity_coeffs(face_model, cfg, SEED, i) for i in range(701)]
    np.testing.assert_array_equal(late, seq[700])
    # A different seed gives different people.
    assert not np.array_equal(gi.identity_coeffs(face_model, cfg, SEED + 1, 700), late)


def test_truncation_and_modes(face_model):
    cfg = GenConfig.model_validate({"identity": {"psi": 1.0, "n_modes": 40, "spread": 1.5, "judge_weighting": 0}})
    c = np.stack([gi.identity_coeffs(face_model, cfg, 7, i) for i in range(200)])
    assert np.abs(c).max() <= 1.5 and np.abs(c).max() > 1.35  # truncated at psi, then scaled by spread
    assert np.all(c[:, 40:] == 0) and np.all(c[:, :40].std(0) > 0.3)
    with pytest.raises(FacesynthError, match="identity.n_modes"):
        gi.identity_coeffs(face_model, GenConfig.model_validate({"identity": {"n_modes": 500}}), 0, 0)


def test_impossible_threshold_fails_clearly(face_model):
    cfg = GenConfig.model_validate({"identity": {"min_distance": 60.0, "max_tries": 5}})
    with pytest.raises(FacesynthError, match="identity.min_distance=60.0.*max_tries"):
        gi.identity_coeffs(face_model, cfg, 3, 5)


def test_make_identity_contract(face_model):
    cfg = GenConfig.model_validate({"appearance": {"texture_size": 128}})
    a = gi.make_identity(face_model, cfg, 5, 3)
    b = gi.make_identity(face_model, cfg, 5, 3)
    assert gi.identity_hash(a) == gi.identity_hash(b)
    assert a.vertices.shape == (face_model.n_vertices, 3) and a.vertices.dtype == np.float32
    # Without aging (gen/aging/shape.py) and local proportions (gen/anthropometry.py) the shape is the model's.
    plain = GenConfig.model_validate({"appearance": {"texture_size": 128}, "aging": {"enabled": False},
                                      "local_shape": {"enabled": False}})
    np.testing.assert_allclose(gi.make_identity(face_model, plain, 5, 3).vertices, face_model.shape(a.coeffs),
                               atol=1e-5)
    assert a.maps["albedo"].shape == (128, 128, 3) and a.maps["albedo"].dtype == np.uint8
    assert a.maps["roughness"].shape == (128, 128) and a.maps["specular"].shape == (128, 128)
    assert a.maps["albedo_head"].shape == (64, 64, 3)
    for k in ("iris", "sclera", "teeth", "gums", "eyelashes"):
        assert len(a.colors[k]) == 3 and all(0 <= x <= 255 for x in a.colors[k])
    import json
    json.dumps(a.attributes)  # JSON-able
    c = gi.make_identity(face_model, cfg, 5, 4)
    assert gi.identity_hash(c) != gi.identity_hash(a)
    with pytest.raises(FacesynthError):
        gi.make_identity(face_model, cfg, -1, 0)


def test_judge_weighting_moves_variance_to_the_modes_the_judge_reads(face_model):
    """Weighted coefficients are the unweighted draws times s_k^p at RMS 1 (gen/mode_weights.py),
    from ICT's measured sensitivities: more spread where dlib moves most, the same total."""
    from gen.mode_weights import load_sensitivity, mode_weights
    s = load_sensitivity(face_model.name)
    assert s is not None and len(s) == face_model.n_identity
    w = mode_weights(face_model.name, face_model.n_identity, 0.5)
    assert np.sqrt(np.mean(w.astype(np.float64) ** 2)) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(np.argsort(w, kind="stable"), np.argsort(s ** 0.5, kind="stable"))
    assert w[np.argmax(s)] > 1.4 and w[np.argmin(s)] < 0.7
    flat = GenConfig()  # the default weighs every mode alike
    assert flat.identity.judge_weighting == 0
    weighted = GenConfig.model_validate({"identity": {"judge_weighting": 0.5}})
    for i in range(20):
        a = gi.identity_coeffs(face_model, weighted, 5, i)
        np.testing.assert_allclose(a, gi.identity_coeffs(face_model, flat, 5, i) * w, rtol=1e-6)
    assert mode_weights(face_model.name, face_model.n_identity, 0.0) is None


def test_judge_weighting_data_errors(tmp_path, monkeypatch):
    from gen import mode_weights as mw
    monkeypatch.setattr(mw, "DATA_DIR", tmp_path)
    mw.load_sensitivity.cache_clear()
    try:
        assert mw.mode_weights("nomodel", 10, 0.5) is None  # nothing measured: every mode alike
        (tmp_path / "mode_sensitivity_bad.json").write_text("{not json")
        with pytest.raises(FacesynthError, match="not a mode-sensitivity file"):
            mw.mode_weights("bad", 10, 0.5)
        (tmp_path / "mode_sensitivity_neg.json").write_text('{"sensitivity": [0.1, -0.2]}')
        with pytest.raises(FacesynthError, match="positive numbers"):
            mw.mode_weights("neg", 2, 0.5)
        (tmp_path / "mode_sensitivity_short.json").write_text('{"sensitivity": [0.1, 0.2]}')
        with pytest.raises(FacesynthError, match="has 2 modes but model short has 10"):
            mw.mode_weights("short", 10, 0.5)
    finally:
        mw.load_sensitivity.cache_clear()


@pytest.mark.parametrize("value", [-0.1, 2.5, "high"])
def test_judge_weighting_is_validated(value):
    from core.config import parse_model
    with pytest.raises(FacesynthError, match="identity.judge_weighting"):
        parse_model(GenConfig, {"identity": {"judge_weighting": value}}, "gen")
