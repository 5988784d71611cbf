"""Contact sheets and the pose histogram (docs/identities.png, docs/renders.png, docs/poses.png,
docs/ages.png)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from core.atomic import atomic_path, atomic_write_bytes
from render.config import RenderConfig
from render.scene import Light, sample_scene

# A plain studio setup for identity sheets: one key light upper right, soft fill, grey gradient.
STUDIO_LIGHTS = (Light("directional", (0.35, 0.35, 0.87), (1.0, 0.97, 0.93), 1.0, 5600.0, 0.0, 0.0),
                 Light("directional", (-0.6, 0.1, 0.8), (0.9, 0.95, 1.0), 0.35, 6500.0, 0.0, 0.0))
VIEWS = ((0.0, "frontal"), (40.0, "3/4"), (80.0, "profile"))


def clean(cfg: RenderConfig, background: str = "gradient") -> RenderConfig:
    """`cfg` without degradations and with one background kind (for sheets that show the faces)."""
    d = cfg.model_dump()
    for k in d["degradations"]:
        d["degradations"][k]["prob"] = 0.0
    d["background"] = {"kinds": {background: 1.0}}
    return RenderConfig.model_validate(d)


def save_png(img: np.ndarray, out: str | Path) -> Path:
    """Write RGB `img` atomically (temp name + rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return atomic_write_bytes(out, buf.tobytes())


def _tile(img: np.ndarray, tile: int) -> np.ndarray:
    return cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA) if img.shape[0] != tile else img


def identities_sheet(maker, n: int = 16, tile: int = 96, columns: int = 4, progress=None) -> np.ndarray:
    """n identities, each as frontal / 3/4 / profile tiles, studio light, neutral expression."""
    blocks = []
    for i in range(n):
        ident = maker.identity(i)
        base = maker.scene(i, 0)
        tiles = []
        for k, (yaw, _) in enumerate(VIEWS):
            s = dataclasses.replace(base, yaw=yaw if i % 2 == 0 else -yaw, pitch=0.0, roll=0.0, distance=80.0,
                                    zoom=1.0, shift=(0.0, 0.0, 0.0), ambient=0.3, lights=STUDIO_LIGHTS, expression=None)
            tiles.append(_tile(maker.render_scene(ident, s).clean_crop, tile))
        blocks.append(np.concatenate(tiles, 1))
        if progress:
            progress(1)
    rows = [np.concatenate(blocks[r:r + columns], 1) for r in range(0, n, columns)]
    if len(rows) > 1 and rows[-1].shape[1] != rows[0].shape[1]:
        pad = np.zeros((rows[-1].shape[0], rows[0].shape[1] - rows[-1].shape[1], 3), np.uint8)
        rows[-1] = np.concatenate([rows[-1], pad], 1)
    sheet = np.concatenate(rows, 0)
    # thin separators between identities
    for c in range(1, columns):
        sheet[:, c * 3 * tile - 1: c * 3 * tile + 1] = 255
    for r in range(1, len(rows)):
        sheet[r * tile - 1: r * tile + 1] = 255
    return sheet


def renders_sheet(maker, identities: int = 4, per: int = 8, tile: int = 112, yaw_range=(-80.0, 80.0),
                  landmarks: bool = False, progress=None) -> np.ndarray:
    """identities x per renders as the config draws them, except yaw spread evenly over yaw_range."""
    rows = []
    yaws = np.linspace(*yaw_range, per)
    for i in range(identities):
        ident = maker.identity(i)
        row = []
        for j in range(per):
            s = dataclasses.replace(maker.scene(i, j), yaw=float(yaws[j]))
            r = maker.render_scene(ident, s)
            img = r.crop.copy()
            if landmarks:
                for x, y in r.lm5:
                    cv2.circle(img, (int(round(x)), int(round(y))), 1, (0, 255, 0), -1)
            row.append(_tile(img, tile))
            if progress:
                progress(1)
        rows.append(np.concatenate(row, 1))
    return np.concatenate(rows, 0)


AGES = (20.0, 32.0, 44.0, 56.0, 68.0, 80.0)


def ages_sheet(maker, identities, ages=AGES, tile: int = 112, yaw: float = 20.0, labels: bool = True,
               progress=None) -> np.ndarray:
    """One row per identity: the same person at each of `ages` (years), studio light, neutral face,
    one pose per row; a header row labels the ages."""
    from gen.identity import identity_at_age
    rows = []
    for n, i in enumerate(identities):
        s = dataclasses.replace(maker.scene(i, 0), yaw=yaw if n % 2 == 0 else -yaw, pitch=0.0, roll=0.0,
                                distance=80.0, zoom=1.0, shift=(0.0, 0.0, 0.0), ambient=0.3, lights=STUDIO_LIGHTS,
                                expression=None)
        row = []
        for a in ages:
            ident = identity_at_age(maker.model, maker.gen_cfg, maker.seed, int(i), a)
            row.append(_tile(maker.render_scene(ident, s).clean_crop, tile))
            if progress:
                progress(1)
        rows.append(np.concatenate(row, 1))
    sheet = np.concatenate(rows, 0)
    if labels:
        head = np.full((18, sheet.shape[1], 3), 255, np.uint8)
        for k, a in enumerate(ages):
            cv2.putText(head, f"{a:g}", (k * tile + tile // 2 - 8, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                        cv2.LINE_AA)
        sheet = np.concatenate([head, sheet], 0)
    return sheet


def sample_poses(cfg: RenderConfig, n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) yaw/pitch/roll as sample_scene draws them for images 0..n-1 of identity 0."""
    out = np.empty((n, 3))
    for j in range(n):
        s = sample_scene(cfg, seed, 0, j)
        out[j] = s.yaw, s.pitch, s.roll
    return out


def _density(d, x: np.ndarray) -> np.ndarray:
    from scipy.stats import truncnorm
    if d.kind == "uniform":
        return np.where((x >= d.min) & (x <= d.max), 1.0 / max(d.max - d.min, 1e-9), 0.0)
    if d.std == 0:
        return np.zeros_like(x)
    a, b = (d.min - d.mean) / d.std, (d.max - d.mean) / d.std
    return truncnorm.pdf(x, a, b, loc=d.mean, scale=d.std)


def pose_histogram(cfg: RenderConfig, n: int, out: str | Path, seed: int = 0) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    poses = sample_poses(cfg, n, seed)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.0), dpi=80)
    for k, (name, ax) in enumerate(zip(("yaw", "pitch", "roll"), axes)):
        d = getattr(cfg.pose, name)
        ax.hist(poses[:, k], bins=60, density=True, color="#7aa6d8", label=f"{n} sampled")
        if cfg.pose.poses is None:
            x = np.linspace(d.min - 5, d.max + 5, 400)
            ax.plot(x, _density(d, x), "k-", lw=1.2, label="configured")
            desc = f"{d.kind} mean {d.mean:g} std {d.std:g} [{d.min:g}, {d.max:g}]" if d.kind == "normal" \
                else f"uniform [{d.min:g}, {d.max:g}]"
            ax.set_title(f"{name}: {desc}", fontsize=8)
        ax.set_xlabel("degrees")
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return out

