"""`facesynth eval`: verification accuracy of a checkpoint on .bin files and image-pair lists.

Writes results.json, results.md and one angle histogram per set (positive vs negative pair
angles, as in the TBGAN paper's Fig. 10).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_path, atomic_write_text
from core.errors import FacesynthError
from recognition import checkpoint as ckpt
from recognition import verification as ver


@torch.no_grad()
def embed_array(net: torch.nn.Module, images: np.ndarray, batch_size: int = 64,
                device: str | torch.device = "cpu", flip: bool = True) -> np.ndarray:
    """(N,H,W,3) uint8 RGB -> (N,D) float32 embeddings; with flip, emb(x) + emb(mirror x)."""
    out = []
    for i in range(0, len(images), batch_size):
        x = torch.from_numpy(images[i:i + batch_size].transpose(0, 3, 1, 2).copy())
        x = x.to(device).float().div_(127.5).sub_(1.0)
        e = net(x)
        if flip:
            e = e + net(torch.flip(x, dims=[3]))
        out.append(e.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def read_pair_list(path: str | Path) -> tuple[list[bytes], np.ndarray]:
    """Lines 'path1 path2 same' (same: 1/0/true/false); relative paths are from the list's folder."""
    path = Path(path)
    if not path.is_file():
        raise FacesynthError(f"{path}: pair list not found; write lines 'image1 image2 same'")
    images, issame = [], []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3 or parts[2].lower() not in ("1", "0", "true", "false"):
            raise FacesynthError(f"{path}:{n}: expected 'image1 image2 same' with same 1/0/true/false")
        for p in parts[:2]:
            f = Path(p) if Path(p).is_absolute() else path.parent / p
            if not f.is_file():
                raise FacesynthError(f"{path}:{n}: image {f} not found")
            images.append(f.read_bytes())
        issame.append(parts[2].lower() in ("1", "true"))
    if not issame:
        raise FacesynthError(f"{path}: no pairs; write lines 'image1 image2 same'")
    return images, np.asarray(issame, bool)


def plot_angles(angles: np.ndarray, issame: np.ndarray, title: str, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
    bins = np.linspace(0, 180, 61)
    ax.hist(angles[issame], bins=bins, alpha=0.6, color="tab:green", label="positive pairs", density=True)
    ax.hist(angles[~issame], bins=bins, alpha=0.6, color="tab:red", label="negative pairs", density=True)
    ax.set_xlabel("angle between embeddings (degrees)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path


def evaluate_set(net, input_size: int, images: list[bytes], issame: np.ndarray, batch_size: int,
                 device) -> tuple[ver.VerificationResult, np.ndarray]:
    arr = ver.decode_images(images, input_size)
    emb = embed_array(net, arr, batch_size, device)
    return ver.evaluate(emb, issame), ver.pair_angles(emb)


def markdown_table(results: dict[str, dict]) -> str:
    # "0.01 grid": insightface's threshold scan, the accuracy papers report; the other is exact.
    lines = ["| set | pairs | accuracy (%) | accuracy, 0.01 grid (%) | TAR@FAR=1e-3 (%) | AUC |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        tar = r["tar_at_far"].get("0.001")
        tar_s = "n/a" if tar is None else f"{100 * tar:.2f}"
        grid = r.get("accuracy_grid_mean")
        grid_s = "n/a" if grid is None else f"{100 * grid:.2f} ± {100 * r['accuracy_grid_std']:.2f}"
        lines.append(f"| {name} | {r['n_pairs']} | {100 * r['accuracy_mean']:.2f} ± {100 * r['accuracy_std']:.2f} "
                     f"| {grid_s} | {tar_s} | {r['auc']:.4f} |")
    return "\n".join(lines) + "\n"


def check_pairs(name: str, issame: np.ndarray) -> None:
    """10-fold verification needs a pair in every fold, and both kinds of pair to pick a threshold."""
    n, pos = len(issame), int(issame.sum())
    if n < ver.N_FOLDS or pos == 0 or pos == n:
        raise FacesynthError(f"{name}: {n} pairs ({pos} same, {n - pos} different); {ver.N_FOLDS}-fold verification "
                             f"needs at least {ver.N_FOLDS} pairs with both same and different ones")


def set_name(path: str | Path) -> str:
    return Path(path).stem


def run(checkpoint: str, bins: list[str], pairs: list[str], out: str | Path, batch_size: int = 64,
        device: str = "cpu") -> dict:
    """Evaluate on every set; write results.json, results.md and angles_<set>.png into out."""
    if not bins and not pairs:
        raise FacesynthError("eval: nothing to evaluate; pass --bin FILE.bin ... and/or --pairs LIST.txt")
    # Read (and so validate) every input before any work or output.
    sets = {}
    for b in bins:
        sets[set_name(b)] = ver.read_bin(b)
    for p in pairs:
        sets[set_name(p)] = read_pair_list(p)
    for name, (_, issame) in sets.items():
        check_pairs(name, issame)
    net, state = ckpt.load_backbone(checkpoint, device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, (images, issame) in sets.items():
        res, angles = evaluate_set(net, state["input_size"], images, issame, batch_size, device)
        if not np.isfinite(res.accuracy_mean) or not np.isfinite(angles).all():
            raise FacesynthError(f"{name}: the checkpoint gives non-finite embeddings (a diverged or damaged "
                                 f"model); evaluate another checkpoint")
        results[name] = res.as_dict()
        results[name]["histogram"] = str(plot_angles(angles, issame, name, out / f"angles_{name}.png"))
        results[name]["mean_angle_positive"] = float(angles[issame].mean()) if issame.any() else None
        results[name]["mean_angle_negative"] = float(angles[~issame].mean()) if (~issame).any() else None
    doc = {"checkpoint": str(checkpoint), "step": state.get("step"), "sets": results}
    atomic_write_text(out / "results.json", json.dumps(doc, indent=1))
    atomic_write_text(out / "results.md", markdown_table(results))
    return doc
