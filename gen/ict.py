"""Import the ICT Face Model Light (USC ICT, MIT) into the facesynth cache.

Upstream: github.com/ICT-VGL/ICT-FaceKit, FaceXModel/ (Li et al., "Learning Formation of
Physically-Based Face Attributes", CVPR 2020). The light release is linear: a neutral mesh,
100 identity OBJs (the neutral moved one unit along each PCA mode, coefficients ~ N(0, 1)) and
53 ARKit-named expression OBJs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.errors import FacesynthError
from gen.modelcache import FaceModel, save_model
from gen.obj import parse_obj, parse_vertex_block
from gen.sources import SourceFiles

NAME = "ict-facekit"
UPSTREAM_COMMIT = "da5f95a607f5e6b37755b38d3385d7f2853732e5"
VERSION = f"light-{UPSTREAM_COMMIT[:7]}"
N_VERTICES = 26719
N_IDENTITY = 100
NEUTRAL = "generic_neutral_mesh.obj"

# Vertex ranges from the upstream README's topology table ([start, end) here).
VERTEX_REGIONS = {
    "face": (0, 9409), "head_neck": (9409, 11248), "mouth_socket": (11248, 13294),
    "eye_socket_left": (13294, 13678), "eye_socket_right": (13678, 14062),
    "gums_tongue": (14062, 17039), "teeth": (17039, 21451),
    "sclera_left": (21451, 22221), "iris_left": (22221, 23021),
    "sclera_right": (23021, 23791), "iris_right": (23791, 24591),
    "lacrimal_fluid": (24591, 24999), "eye_blend": (24999, 25047),
    "eye_occlusion": (25047, 25351), "eyelashes": (25351, 26719),
}
# Narrow face area (upstream README "Face Area Details"): the part that varies most by identity.
NARROW_FACE = (0, 6706)


def content_digest(neutral: np.ndarray, id_basis: np.ndarray, expr_basis: np.ndarray) -> str:
    """sha256 of the geometry itself, so any packaging of the same release verifies alike."""
    h = hashlib.sha256()
    for a in (neutral, id_basis, expr_basis):
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.hexdigest()


def _vertices(files: SourceFiles, name: str, data: bytes) -> np.ndarray:
    try:
        v = parse_vertex_block(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FacesynthError(f"{files.src}: {name} is not a valid OBJ ({e}); replace the file with the upstream one") from None
    if v.shape[0] != N_VERTICES:
        raise FacesynthError(f"{files.src}: {name} has {v.shape[0]} vertices, expected {N_VERTICES}; "
                             "use the ICT Face Model *Light* files unmodified")
    return v


def convert(src: Path, progress: bool = True) -> tuple[FaceModel, str | None, dict[str, bytes]]:
    """Read an ICT-FaceKit source into a FaceModel (nothing is written)."""
    with SourceFiles(Path(src), NEUTRAL) as files:
        try:
            index = json.loads(files.read("vertex_indices.json"))
            expr_names = list(index["expressions"])
            landmarks = np.asarray(index["idx_to_landmark_verts"], np.int64)
        except (ValueError, KeyError, TypeError):
            raise FacesynthError(f"{src}: vertex_indices.json is malformed; replace it with the upstream file") from None
        if len(landmarks) != 68 or landmarks.max() >= N_VERTICES:
            raise FacesynthError(f"{src}: vertex_indices.json must list 68 landmark vertices below {N_VERTICES}")
        try:
            mesh = parse_obj(files.read(NEUTRAL).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise FacesynthError(f"{src}: {NEUTRAL} is not a valid OBJ ({e}); replace it with the upstream file") from None
        if mesh.vertices.shape[0] != N_VERTICES:
            raise FacesynthError(f"{src}: {NEUTRAL} has {mesh.vertices.shape[0]} vertices, expected {N_VERTICES}; "
                                 "use the ICT Face Model *Light* files unmodified")
        neutral = mesh.vertices
        id_names = [f"identity{k:03d}.obj" for k in range(N_IDENTITY)]
        ex_names = [f"{n}.obj" for n in expr_names]
        todo = id_names + ex_names
        got = {}
        for name, data in tqdm(files.read_many(todo), total=len(todo), desc=f"import {NAME}",
                               unit="obj", disable=not progress, mininterval=1.0):
            got[name] = (_vertices(files, name, data) - neutral).astype(np.float32)
        deltas = [got[n] for n in todo]
        license_bytes = files.read_extra("LICENSE")
        readme = files.read_extra("README.md")
    id_basis = np.stack(deltas[:N_IDENTITY])
    expr_basis = np.stack(deltas[N_IDENTITY:])
    neutral32 = neutral.astype(np.float32)
    uvs = mesh.uvs.astype(np.float32)
    model = FaceModel(
        name=NAME, version=VERSION, neutral=neutral32, id_basis=id_basis,
        id_std=np.ones(N_IDENTITY, np.float32),  # upstream: each identity OBJ is one std along its mode
        expr_basis=expr_basis, expr_names=expr_names,
        faces=mesh.tri_vertex, uvs=uvs, face_uvs=mesh.tri_uv,
        face_region=mesh.tri_material, region_names=list(mesh.materials),
        vertex_regions=dict(VERTEX_REGIONS), landmarks68=landmarks,
        meta={"source": str(src), "upstream_commit": UPSTREAM_COMMIT, "license": "MIT",
              "content_sha256": content_digest(neutral32, id_basis, expr_basis),
              "units": "cm", "narrow_face": list(NARROW_FACE),
              "n_vertices": N_VERTICES, "n_faces": int(len(mesh.tri_vertex))})
    extras = {"README.upstream.md": readme} if readme else {}
    return model, (license_bytes.decode("utf-8", "replace") if license_bytes else None), extras


def import_ict(src: Path, expected_digest: str | None = None, progress: bool = True) -> Path:
    model, license_text, extras = convert(src, progress)
    if license_text is None:
        raise FacesynthError(f"{src}: no LICENSE found beside the model; the MIT license must travel with it, use the full upstream copy")
    got = model.meta["content_sha256"]
    if expected_digest and got != expected_digest:
        raise FacesynthError(f"{src}: model content checksum mismatch (got {got[:12]}…, expected {expected_digest[:12]}…); "
                             "the download is corrupt or not upstream commit " + UPSTREAM_COMMIT[:7])
    return save_model(model, license_text, extras)
