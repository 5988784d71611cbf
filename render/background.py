"""Backgrounds behind the face: procedural (solid, gradient, noise texture, random shapes) or
random crops of the user's own images. All pure functions of an rng."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from core.errors import FacesynthError
from core.rng import weighted_choice
from render.config import BackgroundConfig

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
_MAX_SIDE = 512  # user images are downscaled once to this longest side and kept in memory


def _color(rng) -> np.ndarray:
    # HSV with moderate saturation: real backdrops are rarely neon.
    hsv = np.array([[[rng.integers(0, 180), rng.integers(0, 200), rng.integers(20, 256)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def solid(size: int, rng) -> np.ndarray:
    return np.broadcast_to(_color(rng), (size, size, 3)).astype(np.uint8)


def gradient(size: int, rng) -> np.ndarray:
    a, b = _color(rng), _color(rng)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    t = np.clip(0.5 + np.cos(ang) * xx + np.sin(ang) * yy, 0, 1)[..., None]
    return (a * (1 - t) + b * t).astype(np.uint8)


def noise(size: int, rng) -> np.ndarray:
    a, b = _color(rng), _color(rng)
    field = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for cells in (3, 6, 12, 24)[: int(rng.integers(2, 5))]:
        g = rng.random((cells, cells)).astype(np.float32)
        field += amp * cv2.resize(g, (size, size), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    t = np.clip(field / total, 0, 1)[..., None]
    return (a * (1 - t) + b * t).astype(np.uint8)


def shapes(size: int, rng) -> np.ndarray:
    img = np.ascontiguousarray(gradient(size, rng) if rng.random() < 0.5 else solid(size, rng))
    for _ in range(int(rng.integers(3, 12))):
        c = tuple(int(v) for v in _color(rng))
        kind = rng.integers(0, 3)
        p = tuple(int(v) for v in rng.integers(-size // 4, size + size // 4, 2))
        if kind == 0:
            cv2.circle(img, p, int(rng.integers(size // 16, size // 2)), c, -1, cv2.LINE_AA)
        elif kind == 1:
            q = tuple(int(v) for v in rng.integers(-size // 4, size + size // 4, 2))
            cv2.rectangle(img, p, q, c, -1)
        else:
            q = tuple(int(v) for v in rng.integers(-size // 4, size + size // 4, 2))
            cv2.line(img, p, q, c, int(rng.integers(1, max(2, size // 12))), cv2.LINE_AA)
    return img


def list_images(folder: str) -> tuple[str, ...]:
    root = Path(folder).expanduser()
    files = tuple(sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()))
    if not files:
        raise FacesynthError(f"background.folder: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {root}; "
                             "add some or remove 'images' from background.kinds")
    return files


MAX_PIXELS = 40_000_000  # 40 MP: a photo, not a decompression bomb (decoded RGB stays < 120 MB)


def _header_size(path: str) -> tuple[int, int]:
    """(width, height) from the file's header alone, or one line on why it is no image we take."""
    from PIL import Image
    try:
        with Image.open(path) as im:  # lazy: reads the header, decodes nothing
            w, h = im.size
    except Image.DecompressionBombError:
        raise FacesynthError(f"background.folder: {path} declares more pixels than a photo has "
                             f"(limit {MAX_PIXELS:,}); remove or downscale it") from None
    except Exception as e:  # noqa: BLE001 - PIL raises many types for damaged or foreign files
        raise FacesynthError(f"background.folder: cannot read image {path} ({type(e).__name__}); "
                             "remove or replace it") from None
    if w * h > MAX_PIXELS:
        raise FacesynthError(f"background.folder: {path} is {w}x{h} = {w * h:,} pixels, over the limit of "
                             f"{MAX_PIXELS:,}; downscale it (backgrounds are cropped to {_MAX_SIDE} px anyway)")
    return w, h


def check_images(files: tuple[str, ...]) -> None:
    """Check every user image before any render starts: its header's pixel count, then a full
    decode (a truncated or damaged file fails here, once, not in every actor)."""
    from PIL import Image
    for path in files:
        _header_size(path)
        try:
            with Image.open(path) as im:
                im.draft("RGB", (_MAX_SIDE, _MAX_SIDE))  # JPEG decodes at a reduced scale: fast
                im.load()
        except Exception as e:  # noqa: BLE001 - as above
            raise FacesynthError(f"background.folder: cannot decode image {path} ({type(e).__name__}); "
                                 "remove or replace it") from None


@lru_cache(maxsize=64)
def _load(path: str) -> np.ndarray:
    _header_size(path)  # before cv2 decodes it whole: the file may have changed since the check
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FacesynthError(f"background.folder: cannot read image {path}; remove or replace it")
    h, w = img.shape[:2]
    k = _MAX_SIDE / max(h, w)
    if k < 1:
        img = cv2.resize(img, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def from_images(size: int, rng, files: tuple[str, ...], cfg: BackgroundConfig) -> np.ndarray:
    img = _load(files[int(rng.integers(0, len(files)))])
    h, w = img.shape[:2]
    side = max(4, int(min(h, w) / rng.uniform(cfg.image_scale.min, cfg.image_scale.max)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y:y + side, x:x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)


KINDS = {"solid": solid, "gradient": gradient, "noise": noise, "shapes": shapes}


def make_background(cfg: BackgroundConfig, size: int, rng, files: tuple[str, ...] | None = None) -> tuple[str, np.ndarray]:
    kind = weighted_choice(rng, cfg.kinds)
    if kind == "images":
        return kind, from_images(size, rng, files if files is not None else list_images(cfg.folder), cfg)
    return kind, KINDS[kind](size, rng)


def composite(rgba: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA over an RGB background."""
    a = rgba[..., 3:4].astype(np.float32) * (1 / 255)
    out = rgba[..., :3].astype(np.float32) + (1 - a) * bg.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
