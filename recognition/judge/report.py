"""The judge's outputs: a histogram of genuine vs impostor distances and a short text table."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from recognition.judge.metrics import HIST_BINS


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def histogram_png(path: Path, genuine: np.ndarray, impostor: np.ndarray, metrics: dict, title: str) -> None:
    """Genuine and impostor distance densities with the decision threshold, in the manner of
    the identity-distance histograms of TBGAN (Gecer et al., ECCV 2020, Fig. 10)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from core.atomic import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    t = metrics["threshold"]
    bins = HIST_BINS
    hi = max(float(np.max(genuine, initial=0)), float(np.max(impostor, initial=0)))
    if hi > bins[-1]:
        bins = np.r_[bins, hi + 1e-9]
    if len(impostor):
        ax.hist(impostor, bins=bins, density=True, alpha=0.55, color="tab:red",
                label=f"impostor (n={len(impostor):,}; FAR@{t:g} {_pct(metrics['far'])})")
    if len(genuine):
        ax.hist(genuine, bins=bins, density=True, alpha=0.55, color="tab:blue",
                label=f"genuine (n={len(genuine):,}; TAR@{t:g} {_pct(metrics['tar'])})")
    ax.axvline(t, color="k", ls="--", lw=1)
    ax.text(t, ax.get_ylim()[1] * 0.95, f" {t:g}", va="top")
    ax.set_xlabel("Euclidean distance between dlib face embeddings")
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


THUMB = 112  # px: the side of each face in the closest-pairs sheet (a facesynth crop's own size)


def pairs_sheet_png(path: Path, pairs: list[tuple[np.ndarray, np.ndarray, str]], per_row: int = 2) -> None:
    """A contact sheet: each cell is one pair of faces side by side under its caption (the
    identities and their distance), `per_row` cells a row. Faces are fitted to THUMB px squares."""
    from PIL import Image, ImageDraw, ImageOps

    from core.atomic import atomic_write_bytes

    band, gap = 16, 6
    cell_w, cell_h = 2 * THUMB, THUMB + band
    rows = max(1, -(-len(pairs) // per_row))
    sheet = Image.new("RGB", (per_row * cell_w + (per_row - 1) * gap, rows * cell_h + (rows - 1) * gap), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (a, b, caption) in enumerate(pairs):
        x, y = (n % per_row) * (cell_w + gap), (n // per_row) * (cell_h + gap)
        draw.text((x + 3, y + 2), caption, fill="black")
        for k, img in enumerate((a, b)):
            face = ImageOps.fit(Image.fromarray(np.asarray(img, np.uint8)), (THUMB, THUMB))
            sheet.paste(face, (x + k * THUMB, y + band))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    atomic_write_bytes(path, buf.getvalue())


def table(metrics: dict) -> str:
    """A few lines for stdout."""
    imp, gen = metrics["impostor"] or {}, metrics["genuine"] or {}
    lines = [
        f"images {metrics['images']}  identities {metrics['identities']}  threshold {metrics['threshold']:g}",
        f"impostor mean distance {_num(imp.get('mean'))}  FAR {_pct(metrics['far'])}",
        f"genuine  mean distance {_num(gen.get('mean'))}  TAR {_pct(metrics['tar'])}",
        f"EER {_pct(metrics['eer'])} at {_num(metrics['eer_threshold'])}  uniqueness {_num(metrics['uniqueness'])}",
    ]
    if "far_same_sex" in metrics:
        lines.append(f"FAR within one sex {_pct(metrics['far_same_sex'])}  across sexes {_pct(metrics['far_cross_sex'])}")
    cons = metrics.get("consistency")
    if cons:
        named = {"by_abs_yaw": "|yaw|", "by_expression": "expression", "by_age_gap": "age gap"}
        for key in [k for k in cons if k.startswith("by_")]:
            name = named.get(key, key[3:].replace("_", " "))
            cells = "  ".join(f"{b} {_pct(v['tar'])} ({v['pairs']})" for b, v in cons[key].items() if v["pairs"])
            if cells:
                lines.append(f"TAR vs frontal by {name}: {cells}")
    ages = metrics.get("cross_age")
    if ages:
        cells = "  ".join(f"{b} {_pct(v['tar'])} ({v['pairs']})" for b, v in ages["genuine_by_age_gap"].items()
                          if v["pairs"])
        effect = ages["aging_effect"]
        lines.append(f"TAR of all genuine pairs by age gap: {cells}  aging effect "
                     f"{'-' if effect is None else f'{effect:+.3f}'} (mean distance, >= 20 minus < 5 years)")
        lines.append("FAR by ages (younger image, older image): " + "  ".join(
            f"{r}/{c} {_pct(v['far'])}" for r, row in ages["far_by_age"].items() for c, v in row.items()
            if v["pairs"]))
    return "\n".join(lines) + "\n"
