"""Known face models, where their sources are found, and how they are imported."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from gen import ict
from core.errors import FacesynthError
from core.paths import dev_shared_dir, facesynth_home

# Users with a BFM licence bring their own files; they are loaded directly (gen/bfm.py).
IMPORTABLE = {"ict-facekit": "ICT Face Model Light (USC ICT, MIT)"}

ICT_ENV = "FACESYNTH_ICT_SOURCE"
ICT_URL_ENV = "FACESYNTH_ICT_URL"
ICT_URL = f"https://github.com/ICT-VGL/ICT-FaceKit/archive/{ict.UPSTREAM_COMMIT}.zip"
# sha256 of (neutral, identity modes, expression deltas) as float32 for upstream commit
# da5f95a; any packaging of that release (zip, tar.xz, folder) gives the same digest.
ICT_CONTENT_SHA256 = "1a4b63c3496df097e33513fea4ce1ecf6172c7b8d9689e4ba1c81919939a5bce"


def _check_name(name: str) -> None:
    if name not in IMPORTABLE:
        known = ", ".join(sorted(IMPORTABLE))
        raise FacesynthError(f"unknown model '{name}'; known models: {known}")


def find_ict_source(explicit: str | os.PathLike | None = None) -> Path | None:
    """Explicit path, then $FACESYNTH_ICT_SOURCE, then ../shared/models/ict-facekit/."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ICT_ENV)
    if env:
        p = Path(env).expanduser()
        if not p.exists():
            raise FacesynthError(f"{ICT_ENV}={env}: no such file or folder; point it at the ICT-FaceKit .tar.xz or checkout")
        return p
    shared = dev_shared_dir() / "models" / "ict-facekit"
    if shared.is_dir():
        archives = sorted(shared.glob("*.tar.*")) + sorted(shared.glob("*.zip"))
        return archives[0] if archives else shared
    return None


def download(url: str, dest_dir: Path, timeout: float = 60.0) -> Path:
    """Fetch `url` into `dest_dir` under a temp name, renamed only when complete."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    final = dest_dir / name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=dest_dir)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            from tqdm import tqdm
            with tqdm(total=total or None, unit="B", unit_scale=True, desc=f"download {name}") as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
            if total and out.tell() != total:
                raise FacesynthError(f"{url}: download truncated ({out.tell()} of {total} bytes); try again")
        os.replace(tmp, final)
    except (urllib.error.URLError, OSError) as e:
        os.unlink(tmp)
        raise FacesynthError(f"{url}: download failed ({e}); set {ICT_ENV} to a local copy of ICT-FaceKit") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return final


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def import_model(name: str, source: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Import `name` from `source` (or the usual places, or upstream) into the cache."""
    _check_name(name)
    src = find_ict_source(source)
    if src is not None:
        return ict.import_ict(src, progress=progress)
    url = os.environ.get(ICT_URL_ENV, ICT_URL)
    downloads = facesynth_home() / "downloads"
    archive = download(url, downloads)
    try:
        return ict.import_ict(archive, expected_digest=ICT_CONTENT_SHA256, progress=progress)
    except FacesynthError:
        archive.unlink(missing_ok=True)  # a bad download must not be picked up again
        raise
    finally:
        shutil.rmtree(downloads / "tmp", ignore_errors=True)
