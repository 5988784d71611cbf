"""Training checkpoints: written atomically, read with torch's weights-only loader."""
from __future__ import annotations

import re
from pathlib import Path

import torch

from core.atomic import atomic_path
from core.errors import FacesynthError, first_line
from recognition.backbones import build_backbone

FORMAT = "facesynth-recognition"
_STEP = re.compile(r"^step-(\d+)\.pt$")


def save(path: str | Path, state: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)
    return path


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FacesynthError(f"{path}: checkpoint not found; pass a .pt written by facesynth train")
    try:
        # weights_only: tensors and plain containers only, so a checkpoint cannot run code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for damaged or foreign files
        raise FacesynthError(f"{path}: not a loadable facesynth checkpoint ({type(e).__name__}); "
                             "pass a .pt written by facesynth train") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise FacesynthError(f"{path}: not a facesynth recognition checkpoint; pass a .pt written by facesynth train")
    return state


def step_path(out: str | Path, step: int) -> Path:
    return Path(out) / f"step-{step:08d}.pt"


def final_path(out: str | Path) -> Path:
    return Path(out) / "final.pt"


def latest(out: str | Path) -> Path | None:
    out = Path(out)
    if final_path(out).is_file():
        return final_path(out)
    steps = sorted((int(m.group(1)), p) for p in out.glob("step-*.pt") if (m := _STEP.match(p.name)))
    return steps[-1][1] if steps else None


def prune(out: str | Path, keep: int) -> None:
    steps = sorted((int(m.group(1)), p) for p in Path(out).glob("step-*.pt") if (m := _STEP.match(p.name)))
    for _, p in steps[:-keep]:
        p.unlink(missing_ok=True)


def load_backbone(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """The embedding network of a checkpoint, in eval mode, and the checkpoint's metadata."""
    state = load(path)
    try:
        m = state["model"]
        net = build_backbone(m["backbone"], m["embedding_size"], m["width"], 0.0, state["input_size"])
        net.load_state_dict(state["backbone"])
    except FacesynthError:
        raise
    except Exception as e:  # noqa: BLE001 - missing keys, wrong shapes, wrong types: a damaged checkpoint
        raise FacesynthError(f"{path}: damaged checkpoint ({type(e).__name__}: {first_line(e, 160)}); "
                             "pass a .pt written by facesynth train") from e
    net.to(device).eval()
    return net, state
