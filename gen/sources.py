"""Read a model's files from a folder, a checkout, or a .tar.*/.zip archive, without extracting."""
from __future__ import annotations

import lzma
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from core.errors import FacesynthError


class SourceFiles:
    """Files of the folder that holds `anchor` (e.g. generic_neutral_mesh.obj), by base name."""

    def __init__(self, src: Path, anchor: str):
        self.src = Path(src)
        self._tar = self._zip = None
        self._members: dict[str, str] = {}  # base name -> member/path
        self._extra: dict[str, str] = {}  # LICENSE / README found nearest the anchor folder
        if not self.src.exists():
            raise FacesynthError(f"{src}: no such file or folder; pass an ICT-FaceKit checkout, its FaceXModel folder or the .tar.xz")
        try:
            if self.src.is_dir():
                names = [p.relative_to(self.src).as_posix() for p in self.src.rglob("*") if p.is_file()]
            elif tarfile.is_tarfile(self.src):
                self._tar = tarfile.open(self.src)
                names = [m.name for m in self._tar.getmembers() if m.isfile()]
            elif zipfile.is_zipfile(self.src):
                self._zip = zipfile.ZipFile(self.src)
                names = [n for n in self._zip.namelist() if not n.endswith("/")]
            else:
                raise FacesynthError(f"{src}: not a folder, tar or zip archive; pass the ICT-FaceKit .tar.xz, a checkout or its FaceXModel folder")
        except (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, zlib.error, EOFError, OSError) as e:
            raise FacesynthError(f"{src}: archive is corrupt or truncated ({e.__class__.__name__}); download it again") from None
        hits = sorted((n for n in names if PurePosixPath(n).name == anchor), key=len)
        if not hits:
            raise FacesynthError(f"{src}: no {anchor} inside; pass the ICT-FaceKit checkout, its FaceXModel folder or the upstream .tar.xz")
        folder = PurePosixPath(hits[0]).parent
        for n in names:
            p = PurePosixPath(n)
            if p.parent == folder:
                self._members[p.name] = n
        # LICENSE/README: the anchor folder or the nearest parent that has one.
        for want in ("LICENSE", "README.md"):
            for n in sorted(names, key=len):
                p = PurePosixPath(n)
                if p.name == want and (p.parent == folder or p.parent in folder.parents):
                    self._extra[want] = n
                    break
            # A bare FaceXModel folder: the checkout's LICENSE sits one or two levels up.
            if want not in self._extra and self.src.is_dir():
                for up in (self.src.parent, self.src.parent.parent):
                    if (up / want).is_file():
                        self._extra[want] = str((up / want).resolve())  # absolute: src / abs == abs
                        break

    def names(self) -> list[str]:
        return sorted(self._members)

    def _read(self, member: str) -> bytes:
        try:
            if self._tar is not None:
                f = self._tar.extractfile(member)
                assert f is not None
                return f.read()
            if self._zip is not None:
                return self._zip.read(member)
            return (self.src / member).read_bytes()
        except (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, zlib.error, EOFError, OSError) as e:
            raise FacesynthError(f"{self.src}: cannot read {member} ({e.__class__.__name__}: archive corrupt or truncated); download it again") from None

    def read(self, name: str) -> bytes:
        if name not in self._members:
            raise FacesynthError(f"{self.src}: {name} is missing; the source is incomplete, use a full copy of the model")
        return self._read(self._members[name])

    def read_many(self, names: list[str]):
        """Yield (name, bytes) for `names`, in archive order: seeking back in a compressed tar
        decompresses from the start again."""
        missing = [n for n in names if n not in self._members]
        if missing:
            raise FacesynthError(f"{self.src}: {missing[0]} is missing; the source is incomplete, use a full copy of the model")
        if self._tar is not None:
            offset = {m.name: m.offset_data for m in self._tar.getmembers()}
            names = sorted(names, key=lambda n: offset[self._members[n]])
        for n in names:
            yield n, self._read(self._members[n])

    def read_extra(self, name: str) -> bytes | None:
        return self._read(self._extra[name]) if name in self._extra else None

    def close(self) -> None:
        for h in (self._tar, self._zip):
            if h is not None:
                h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
