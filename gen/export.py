"""Write one identity as OBJ + MTL + PNG maps that Blender and MeshLab open.

Each textured material gets its own UVs shifted back into [0,1] (ICT tiles them along u), so
viewers need no UDIM support. Transparent helper shells (lacrimal fluid, eye blend, eye
occlusion) are left out. The folder is written under a temp name and renamed into place.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from gen.appearance import MATERIAL_COLORS, MATERIAL_SURFACE, MATERIAL_TEXTURES
from core.atomic import atomic_dir
from core.errors import FacesynthError
from gen.modelcache import FaceModel
from gen.identity import Identity
from gen.obj import write_obj


def _png(path: Path, img: np.ndarray) -> None:
    a = img[..., ::-1] if img.ndim == 3 else img  # cv2 writes BGR
    if not cv2.imwrite(str(path), np.ascontiguousarray(a)):
        raise FacesynthError(f"{path}: could not write PNG; check the folder is writable")


def export_identity(model: FaceModel, identity: Identity, out: str | os.PathLike,
                    expression: np.ndarray | None = None) -> Path:
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "identity.obj").exists())):
        raise FacesynthError(f"{out}: exists and is not an identity export folder; choose a new --out folder")
    with atomic_dir(out, "export folder") as tmp:
        verts = identity.vertices if expression is None else model.shape(identity.coeffs, expression)
        uvs = np.array(model.uvs, np.float32)
        groups, mtl = [], []
        for ri, name in enumerate(model.region_names):
            faces = np.flatnonzero(model.face_region == ri)
            if name in MATERIAL_TEXTURES:
                key, offset = MATERIAL_TEXTURES[name]
                uvs[np.unique(model.face_uvs[faces]), 0] -= offset
                rough_key, spec_key = MATERIAL_SURFACE[name]
                for k in (key, rough_key, spec_key):
                    _png(tmp / f"{k}.png", identity.maps[k])
                rough = float(identity.maps[rough_key].mean()) / 255
                mtl += [f"newmtl {name}", "Ka 0 0 0", "Kd 1 1 1", "Ks 0.04 0.04 0.04",
                        f"Ns {max(2.0, (1 - rough) ** 2 * 200):.1f}", "illum 2", f"map_Kd {key}.png",
                        f"map_Ks {spec_key}.png", f"Pr {rough:.3f}", f"map_Pr {rough_key}.png", ""]
            elif MATERIAL_COLORS.get(name):
                used = np.unique(model.face_uvs[faces])
                uvs[used, 0] -= np.floor(uvs[used, 0].min())  # keep every exported UV in [0, 1]
                r, g, b = (c / 255 for c in identity.colors[MATERIAL_COLORS[name]])
                gloss = name.startswith(("M_Sclera", "M_Iris", "M_Teeth"))
                mtl += [f"newmtl {name}", f"Kd {r:.4f} {g:.4f} {b:.4f}", "Ks 0.1 0.1 0.1",
                        f"Ns {120 if gloss else 20}", "illum 2", ""]
            else:
                continue  # transparent helper shell
            groups.append((name, faces))
        write_obj(tmp / "identity.obj", verts, model.faces, uvs, model.face_uvs, groups, mtllib="identity.mtl")
        (tmp / "identity.mtl").write_text("# facesynth identity materials\n" + "\n".join(mtl))
        meta = {"index": identity.index, "seed": identity.seed, "colors": identity.colors,
                "attributes": identity.attributes, "coeffs": [round(float(c), 6) for c in identity.coeffs],
                "units": model.meta.get("units", "cm"), "license": model.meta.get("license")}
        (tmp / "identity.json").write_text(json.dumps(meta, indent=1, default=str))
    return out
