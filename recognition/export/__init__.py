"""`facesynth export DATASET --to insightface|folder|hf --out DIR`: a facesynth dataset in
the layouts face recognition trainers read.

- insightface: train.rec, train.idx, property (arcface_torch's MXFaceDataset), plus held-out
  verification sets as insightface .bin files beside them (`--heldout`);
- folder: IDENTITY/IMAGE.jpg|png, as DigiFace-1M ships;
- hf: Parquet with the `datasets.Image` feature and a dataset card, for `datasets.load_dataset`.

Every format streams the shards a batch at a time and is committed atomically: DIR appears
complete or not at all.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from core.errors import FacesynthError
from core.version import version

FORMATS = ("insightface", "folder", "hf")


def _heldout(paths: list[str], out: Path, pairs_per_fold: int) -> list[str]:
    from recognition.heldout import heldout_bin_from_dataset
    from recognition.verification import read_bin
    names = []
    for p in paths:
        src = Path(p)
        name = src.name if src.suffix == ".bin" else f"{src.name or 'heldout'}_frontal_profile.bin"
        if name in names:
            raise FacesynthError(f"--heldout {p}: a second set named {name}; give sets with different names")
        names.append(name)
        if src.suffix == ".bin":
            read_bin(src)  # refuse anything that is not a verification set (no code runs)
            shutil.copyfile(src, out / name)
        else:
            heldout_bin_from_dataset(p, out / name, pairs_per_fold)
    return names


def run(dataset: str, to: str, out: str, progress: bool = True, heldout: list[str] | None = None,
        pairs_per_fold: int = 60, license_id: str | None = None) -> dict:
    from recognition.export.output import export_dir
    from recognition.export.source import ExportSource
    if to not in FORMATS:
        raise FacesynthError(f"--to {to}: unknown format; choose one of {', '.join(FORMATS)}")
    if heldout and to != "insightface":
        raise FacesynthError("--heldout: verification .bin files go with --to insightface")
    src = ExportSource(dataset)  # a missing or incomplete dataset fails here, before writing
    record = {"format": to, "dataset": dataset, "config_hash": src.manifest.get("config_hash"),
              "exported_by": f"facesynth {version()}"}
    with export_dir(out, record) as tmp:
        if to == "insightface":
            from recognition.export.insightface import export_insightface
            stats = export_insightface(src, tmp, progress)
            stats["heldout"] = _heldout(heldout or [], tmp, pairs_per_fold)
        elif to == "folder":
            from recognition.export.folder import export_folder
            stats = export_folder(src, tmp, progress)
        else:
            from recognition.export.hf import export_hf
            stats = export_hf(src, tmp, progress, license_id)
        record.update(stats)
    return record
