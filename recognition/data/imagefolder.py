"""A folder with one subfolder of images per identity (sorted subfolder names give the labels)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import FacesynthError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class ImageFolderSource:
    def __init__(self, path: str | Path):
        root = Path(path)
        if not root.is_dir():
            raise FacesynthError(f"{root}: not a directory; imagefolder needs one subfolder per identity")
        self.name = root.name
        self.paths: list[Path] = []
        labels = []
        classes = sorted(d for d in root.iterdir() if d.is_dir())
        for label, d in enumerate(classes):
            for f in sorted(d.iterdir()):
                if f.suffix.lower() in IMAGE_EXTS:
                    self.paths.append(f)
                    labels.append(label)
        if not self.paths:
            raise FacesynthError(f"{root}: no images in identity subfolders ({', '.join(sorted(IMAGE_EXTS))})")
        self.labels = np.array(labels, dtype=np.int64)
        self.class_names = [d.name for d in classes]
        self.num_classes = len(classes)

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, i: int) -> tuple[bytes, int]:
        return self.paths[i].read_bytes(), int(self.labels[i])
