"""The coarser drawing mesh (render/decimate.py): what it keeps, that it is the same in every
process, and that images drawn with it match those drawn with every triangle."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from render.config import MeshDetail
from render.mesh import build_topology

ALL = MeshDetail(back=0.8, forehead=0.8, face=0.7, mouth=0.7)  # every zone coarse, to test the collapse itself


@pytest.fixture(scope="module")
def full(face_model):
    return build_topology(face_model)


@pytest.fixture(scope="module")
def coarse(face_model):
    return build_topology(face_model, ALL)


def _keys(prim, ids):
    """(welded vertex, u, v) of the unwelded vertices `ids`: what a drawn vertex is, in any primitive."""
    return [(int(prim.vertex[i]), float(prim.uv[i, 0]), float(prim.uv[i, 1])) for i in np.ravel(ids)]


def _edges(prim):
    t = prim.triangles.astype(np.int64)
    e = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), 1)
    uniq, count = np.unique(e, axis=0, return_counts=True)
    return uniq, count


def _key_edges(prim, edges):
    k = _keys(prim, edges)
    return {tuple(sorted((k[2 * i], k[2 * i + 1]))) for i in range(len(edges))}


def test_fewer_triangles_over_a_subset_of_the_vertices(full, coarse):
    for name in ("main", "mouth"):
        f, c = getattr(full, name), getattr(coarse, name)
        assert 0.25 * len(f.triangles) < len(c.triangles) < 0.6 * len(f.triangles), (name, len(c.triangles))
        assert set(_keys(c, np.arange(len(c.vertex)))) <= set(_keys(f, np.arange(len(f.vertex))))
        assert len(np.unique(c.triangles)) == len(c.vertex)  # every listed vertex is drawn
        t = c.triangles.astype(np.int64)
        assert ((t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2])).all()
    assert np.array_equal(full.used, coarse.used)  # normals and expressions still see every vertex


def test_borders_seams_and_lids_are_kept_whole(face_model, full, coarse):
    """Every border edge of the full mesh (UV seams, lid and lip openings, lash ribbons) is an edge
    of the coarse one, and every lid triangle is drawn as it was."""
    from render.decimate import zones
    for name in ("main", "mouth"):
        f, c = getattr(full, name), getattr(coarse, name)
        e, count = _edges(f)
        border = _key_edges(f, e[count == 1])
        assert len(border) > 100
        assert border <= _key_edges(c, _edges(c)[0]), name
    lids = zones(face_model, full.main, full.used) == -1
    assert 2000 < lids.sum() < 8000
    tri = lambda prim, t: frozenset(_keys(prim, t))  # noqa: E731
    drawn = {tri(coarse.main, t) for t in coarse.main.triangles}
    assert all(tri(full.main, t) in drawn for t in full.main.triangles[lids])


@pytest.mark.parametrize("detail", [MeshDetail(back=0.9, forehead=0.0, face=0.0, mouth=0.7), MeshDetail()],
                         ids=["face-whole", "default"])
def test_each_zone_keeps_its_own_share(face_model, full, detail):
    """Each zone loses about its own share of triangles, and a zone at 0 keeps every one of them
    (the default thins every zone, the back of the head most)."""
    from render.decimate import BACK, FACE, FOREHEAD, zones
    z = zones(face_model, full.main, full.used)
    counts = {k: int((z == k).sum()) for k in (BACK, FOREHEAD, FACE)}
    assert all(c > 1000 for c in counts.values()), counts
    share = {BACK: detail.back, FOREHEAD: detail.forehead, FACE: detail.face}
    coarse = build_topology(face_model, detail)
    tri = lambda prim, t: frozenset(_keys(prim, t))  # noqa: E731
    drawn = {tri(coarse.main, t) for t in coarse.main.triangles}
    whole = (z == -1) | np.isin(z, [k for k, r in share.items() if r == 0])
    assert all(tri(full.main, t) in drawn for t in full.main.triangles[whole])
    removed = len(full.main.triangles) - len(coarse.main.triangles)
    expect = sum(r * counts[k] for k, r in share.items())
    assert 0.8 * expect < removed < 1.1 * expect, (removed, expect)
    assert len(coarse.mouth.triangles) < 0.5 * len(full.mouth.triangles)


def test_the_coarse_mesh_is_the_same_in_another_process(coarse):
    code = ("import hashlib, numpy as np; from gen.facemodel import load_model; from render.mesh import build_topology;"
            "from render.config import MeshDetail;"
            f"t = build_topology(load_model('ict-facekit'), MeshDetail(**{ALL.model_dump()})); h = hashlib.sha256();"
            "[h.update(np.ascontiguousarray(a).tobytes()) for p in (t.main, t.mouth) for a in (p.vertex, p.uv, p.triangles)];"
            "print(h.hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
    import hashlib
    h = hashlib.sha256()
    for p in (coarse.main, coarse.mouth):
        for a in (p.vertex, p.uv, p.triangles):
            h.update(np.ascontiguousarray(a).tobytes())
    assert out == h.hexdigest()


def test_images_match_those_drawn_with_every_triangle(face_model):
    """The same scenes (poses, expressions, ages) drawn with every triangle and with every zone
    coarse: nearly the same pixels, and no holes inside the face."""
    import cv2

    from gen.config import GenConfig
    from render.config import RenderConfig
    from render.pipeline import ImageMaker
    none = MeshDetail(back=0, forehead=0, face=0, mouth=0)
    makers = [ImageMaker(face_model, GenConfig(), RenderConfig.model_validate({"output": {"mesh": m.model_dump()}}), 5)
              for m in (none, ALL)]
    diffs, inner, holes = [], 0, 0
    for i in range(3):
        for j in range(0, 24, 3):
            out = []
            for m in makers:
                ident, _ = m.at_age(m.identity(i), j)
                out.append(m.render_scene(ident, m.scene(i, j)))
            a, b = (r.clean_crop.astype(np.int16) for r in out)
            diffs.append(np.abs(a - b).mean())
            face = cv2.erode((out[0].crop_alpha == 255).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            inner += face.sum()
            holes += (face & (out[1].crop_alpha < 128)).sum()
    for m in makers:
        m.close()
    assert 0 < np.mean(diffs) < 2.0 and max(diffs) < 4.0, diffs  # 8-bit levels
    assert holes < 2e-4 * inner, (holes, inner)
