"""Export as an image folder, the layout DigiFace-1M ships: one subfolder per identity holding
that identity's images, `IDENTITY/IMAGE.jpg|png` (the encoded bytes as rendered, no re-encode).

Identity folders are zero-padded to one width, so sorting the names (what torchvision's
ImageFolder and recognition/data/imagefolder.py do to assign labels) gives identity order and
the same labels as the insightface export."""
from __future__ import annotations

from pathlib import Path

from recognition.export.source import ExportSource, image_ext, progress_bar


def export_folder(src: ExportSource, out: Path, progress: bool = True) -> dict:
    width = len(str(int(src.labels.identities.max())))
    made: set[int] = set()
    exts: set[str] = set()
    with progress_bar(src.labels.num_images, "folder", progress) as bar:
        for batch in src.batches(["image", "identity", "image_index"]):
            cols = (batch.column(c).to_pylist() for c in ("image", "identity", "image_index"))
            for img, ident, j in zip(*cols):
                d = out / f"{ident:0{width}d}"
                if ident not in made:
                    d.mkdir()
                    made.add(ident)
                ext = image_ext(img, f"identity {ident} image {j}")
                exts.add(ext)
                (d / f"{j}{ext}").write_bytes(img)
            bar.update(batch.num_rows)
    return {"images": src.labels.num_images, "identities": len(made), "extensions": sorted(exts)}
