"""Known face models, where their sources are found, and how they are imported."""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from core.atomic import commit
from core.errors import FacesynthError
from core.paths import dev_shared_dir, facesynth_home
from gen import bfm, ict
from gen.modelcache import save_model

IMPORTABLE = {"ict-facekit": "ICT Face Model Light (USC ICT, MIT)",
              # Users with a BFM licence bring their own file; it is never downloaded or shipped.
              "bfm2017": "Basel Face Model 2017 (your own model2017-1_*.h5; geometry only)",
              "bfm2009": "Basel Face Model 2009 (your own 01_MorphableModel.mat; geometry only)"}

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
        commit(tmp, final)
    except (urllib.error.URLError, OSError) as e:
        os.unlink(tmp)
        raise FacesynthError(f"{url}: download failed ({e}); set {ICT_ENV} to a local copy of ICT-FaceKit") from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return final


def import_model(name: str, source: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """Import `name` from `source` (or the usual places, or upstream) into the cache."""
    _check_name(name)
    if name in ("bfm2017", "bfm2009"):
        return _import_bfm(name, source)
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


def _import_bfm(name: str, source: str | os.PathLike | None) -> Path:
    """A Basel model's shape and expression modes in the cache format. It has per-vertex colour
    and no UV layout, so it serves geometry (export, shape statistics), not the textured renders."""
    if source is None:
        raise FacesynthError(f"{name}: pass your Basel Face Model file: `facesynth models import {name} FILE` "
                             "(it is licensed per user and never downloaded)")
    model = bfm.load_bfm(bfm.BFMConfig(path=str(source), format=name)).as_face_model()
    return save_model(model, license_text=None)
