"""`facesynth models export-identity`: OBJ + MTL + PNG maps that a viewer can open."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gen.config import GenConfig
from core.errors import FacesynthError
from gen.export import export_identity
from gen.identity import make_identity
from gen.obj import read_obj


def test_export_identity_cli(face_model, tmp_path):
    from cluster.cli import main
    out = tmp_path / "id7"
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("gen:\n  appearance:\n    texture_size: 128\n")  # a job-style file works too
    assert main(["models", "export-identity", "--index", "7", "--seed", "3", "--config", str(cfg),
                 "--out", str(out)]) == 0
    mesh = read_obj(out / "identity.obj")
    ident = make_identity(face_model, GenConfig.model_validate({"appearance": {"texture_size": 128}}), 3, 7)
    assert mesh.vertices.shape == (face_model.n_vertices, 3)
    np.testing.assert_allclose(mesh.vertices, ident.vertices, atol=1e-5)
    assert "M_Face" in mesh.materials and "M_EyeOcclusion" not in mesh.materials
    used = mesh.uvs[np.unique(mesh.tri_uv)]
    assert used.min() >= 0 and used.max() <= 1.0  # tiles shifted back into [0,1]
    mtl = (out / "identity.mtl").read_text()
    for line in mtl.splitlines():
        if line.startswith("map_"):
            img = cv2.imread(str(out / line.split()[1]), cv2.IMREAD_UNCHANGED)
            assert img is not None and img.shape[0] in (64, 128)
    alb = cv2.imread(str(out / "albedo.png"))[..., ::-1]
    np.testing.assert_array_equal(alb, ident.maps["albedo"])
    meta = json.loads((out / "identity.json").read_text())
    assert meta["index"] == 7 and meta["attributes"]["facial_hair"] == ident.attributes["facial_hair"]
    # Exporting again replaces the earlier export; no temp folders remain.
    assert main(["models", "export-identity", "--index", "8", "--config", str(cfg), "--out", str(out)]) == 0
    assert json.loads((out / "identity.json").read_text())["index"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen.yaml", "id7"]


def test_export_refuses_foreign_folder(face_model, tmp_path):
    ident = make_identity(face_model, GenConfig.model_validate({"appearance": {"texture_size": 64}}), 0, 0)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FacesynthError, match="not an identity export"):
        export_identity(face_model, ident, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
