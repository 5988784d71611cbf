"""MTCNN face detector used as a judge of rendered images ("would a real detector find a face?").

Zhang et al., "Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", IEEE SPL 2016: a three-stage cascade P-Net -> R-Net -> O-Net.

The weights are the ones shipped inside the installed ``facenet-pytorch`` wheel (data/pnet.pt,
rnet.pt, onet.pt; converted from the original Caffe/TF models). We only read those files: the
package's Python modules import torchvision, which has no CPU build here, so the networks and the
cascade are re-implemented below in plain torch, following the conventions those weights expect:

* input is RGB, channels-first, normalised as (x - 127.5) * 0.0078125;
* the dense layers of R-Net and O-Net were converted from a (W, H, C)-ordered flatten, so the
  conv features are permuted to (N, W, H, C) before flattening;
* O-Net landmark outputs are 5 x's followed by 5 y's, each relative to the crop box;
* box regressions are offsets in units of the box width/height (stage 1 uses x2 - x1, later
  stages the inclusive width x2 - x1 + 1, as the reference does).

Coordinates returned by :class:`MTCNNJudge` are continuous pixel coordinates in the input image:
pixel column i covers [i, i + 1). (The reference reports x1/y1 one pixel larger because it works
in 1-based inclusive indices; we convert so boxes and landmarks share one frame. OpenCV-style
"pixel centre at integer i" coordinates differ by 0.5 px, well below MTCNN's accuracy.)

Landmark order (``LANDMARK_NAMES``), as seen in the image: eye on the image-left (the subject's
right eye), eye on the image-right, nose tip, mouth corner on the image-left, mouth corner on the
image-right. This is the same order as ArcFace's 5-point alignment template.

Aligned 112x112 crops: MTCNN was trained on boxes that leave some context around the face and its
proposals cannot extend past the image, so a face that fills the whole frame is often missed or
scored low. ``detect`` therefore pads every image with a border of ``border`` x max(H, W) pixels
on each side (filled by edge replication, so no artificial edge is created) before running the
cascade, and maps the results back to the original image's coordinates. Boxes may then extend
past the original image (a face filling the crop has a box larger than the crop).
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.errors import FacesynthError

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

# Pyramid step between scales and the P-Net receptive field, both from Zhang et al. 2016.
PYRAMID_FACTOR = 0.709
PNET_CELL = 12
PNET_STRIDE = 2


# --------------------------------------------------------------------------------------------
# Networks. Attribute names match the keys of facenet-pytorch's state dicts.
# --------------------------------------------------------------------------------------------
class PNet(nn.Module):
    """Fully convolutional 12x12 proposal net: returns (box regression (N,4,h,w), face prob (N,h,w))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)  # face / non-face logits
        self.conv4_2 = nn.Conv2d(32, 4, 1)  # box regression

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)[:, 1]


def _flatten_whc(x: torch.Tensor) -> torch.Tensor:
    # The converted dense weights expect features flattened in (W, H, C) order.
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    """24x24 refine net: returns (box regression (N,4), face prob (N,))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.dense4(_flatten_whc(x)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)[:, 1]


class ONet(nn.Module):
    """48x48 output net: returns (box regression (N,4), landmarks (N,10) = 5 x then 5 y, prob (N,))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(_flatten_whc(x)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)[:, 1]


def weights_dir() -> Path:
    """Folder holding pnet.pt/rnet.pt/onet.pt in the installed facenet-pytorch (not imported)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise FacesynthError(
            "MTCNN weights: package facenet-pytorch is not installed; "
            "install it with `pip install --no-deps facenet-pytorch==2.6.0`")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [n for n in ("pnet.pt", "rnet.pt", "onet.pt") if not (folder / n).is_file()]
    if missing:
        raise FacesynthError(f"MTCNN weights: {', '.join(missing)} missing in {folder}; "
                             "reinstall facenet-pytorch==2.6.0 (--no-deps)")
    return folder


_NETS: dict[str, tuple[PNet, RNet, ONet]] = {}
_NETS_LOCK = threading.Lock()


def load_nets(device: str = "cpu") -> tuple[PNet, RNet, ONet]:
    """The three nets with the shipped weights, in eval mode; cached per process and device."""
    with _NETS_LOCK:
        if device not in _NETS:
            folder = weights_dir()
            nets = []
            for cls, name in ((PNet, "pnet.pt"), (RNet, "rnet.pt"), (ONet, "onet.pt")):
                net = cls()
                state = torch.load(folder / name, map_location="cpu", weights_only=True)
                net.load_state_dict(state)  # strict: every key must match
                nets.append(net.to(device).eval().requires_grad_(False))
            _NETS[device] = tuple(nets)
        return _NETS[device]


# --------------------------------------------------------------------------------------------
# Box helpers. Inside the cascade boxes are 1-based inclusive pixel indices, as in the reference
# (and the original MATLAB code), because the regression targets were defined that way.
# --------------------------------------------------------------------------------------------
def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union",
        inclusive: bool = False) -> torch.Tensor:
    """Greedy non-maximum suppression; returns kept indices, highest score first.

    mode "union": overlap = IoU; "min": intersection / smaller area. ``inclusive`` adds 1 to
    widths/heights (integer-box convention; the reference uses it only for the final "min" NMS).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    one = 1.0 if inclusive else 0.0
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1 + one) * (y2 - y1 + one)
    order = torch.argsort(scores, descending=True)
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        iw = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest]) + one).clamp(min=0)
        ih = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest]) + one).clamp(min=0)
        inter = iw * ih
        if mode == "min":
            overlap = inter / torch.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return torch.stack(keep)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Grow each box to a square around its centre (side = the longer side)."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + 0.5 * (w - side)
    y1 = boxes[:, 1] + 0.5 * (h - side)
    return torch.stack([x1, y1, x1 + side, y1 + side], dim=1)


def _regress(boxes: torch.Tensor, reg: torch.Tensor, inclusive: bool) -> torch.Tensor:
    one = 1.0 if inclusive else 0.0
    w = boxes[:, 2] - boxes[:, 0] + one
    h = boxes[:, 3] - boxes[:, 1] + one
    return boxes + reg * torch.stack([w, h, w, h], dim=1)


def _crops(img: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Normalised (N,3,size,size) patches of img (3,H,W float) under 1-based inclusive boxes.

    Like the reference, box corners are truncated to integers and clipped to the image, and the
    visible part is resized (area averaging) to size x size.
    """
    _, h, w = img.shape
    b = boxes.trunc().long()
    x1 = b[:, 0].clamp(min=1)
    y1 = b[:, 1].clamp(min=1)
    x2 = b[:, 2].clamp(max=w)
    y2 = b[:, 3].clamp(max=h)
    out = torch.zeros(len(b), 3, size, size, dtype=img.dtype, device=img.device)
    for k in range(len(b)):
        if x2[k] >= x1[k] and y2[k] >= y1[k]:
            patch = img[None, :, y1[k] - 1:y2[k], x1[k] - 1:x2[k]]
            out[k] = F.interpolate(patch, size=(size, size), mode="area")[0]
    return (out - 127.5) * 0.0078125


@dataclass(frozen=True, eq=False)  # eq=False: numpy fields have no plain ==
class Detection:
    """One detected face, in the input image's pixel coordinates (column i covers [i, i+1)).

    box: (4,) x1, y1, x2, y2. score: O-Net face probability in [0, 1].
    landmarks: (5, 2) x, y in LANDMARK_NAMES order: image-left eye, image-right eye, nose,
    image-left mouth corner, image-right mouth corner.
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """Geometric mean of box width and height, in pixels."""
        return float(np.sqrt(max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0)))


class MTCNNJudge:
    """MTCNN face detector (facenet-pytorch weights) for judging rendered images.

    min_face_size: smallest face side searched for, in input pixels (>= 12, P-Net's window).
    thresholds: face-probability cut-offs of P-Net, R-Net, O-Net (0.6, 0.7, 0.7 as in the
        reference implementations).
    border: padding added on each side before detection, as a fraction of max(H, W), so faces
        filling the frame (aligned crops) are found; 0 disables it (the padding costs ~1.5x time on
        large frames; border=0 reproduces facenet-pytorch exactly). See the module docstring.
    threads: torch intra-op threads used during ``detect`` (the process-wide setting is restored
        afterwards); None keeps the current setting. The nets are tiny, so one thread is nearly
        as fast as two on an idle machine and tens of times faster when other processes keep the
        cores busy (measured: 25 ms vs ~1 s for a 112x112 crop on a loaded 2-core box).
    """

    def __init__(self, min_face_size: float = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
                 device: str = "cpu", factor: float = PYRAMID_FACTOR, border: float = 0.25,
                 threads: int | None = 1) -> None:
        if min_face_size < PNET_CELL:
            raise ValueError(f"min_face_size must be >= {PNET_CELL} (got {min_face_size})")
        if len(thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in thresholds):
            raise ValueError(f"thresholds must be three probabilities (got {thresholds!r})")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1) (got {factor})")
        if border < 0:
            raise ValueError(f"border must be >= 0 (got {border})")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 or None (got {threads})")
        self.min_face_size = float(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.border = float(border)
        self.threads = threads
        self.device = torch.device(device)
        self.pnet, self.rnet, self.onet = load_nets(str(self.device))

    # ---- public API ------------------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[Detection]:
        """All faces in an HxWx3 uint8 RGB image, highest score first."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image (got shape {image.shape}, "
                             f"dtype {image.dtype})")
        pad = int(round(self.border * max(image.shape[:2])))
        if pad:
            image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                img = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
                img = img.permute(2, 0, 1).float()
                boxes, scores, points = self._cascade(img)
        finally:
            if self.threads is not None:
                torch.set_num_threads(previous)
        boxes = boxes.double().cpu().numpy()
        boxes[:, :2] -= 1.0  # 1-based inclusive -> continuous [x1, x2) coordinates
        boxes -= pad
        points = points.double().cpu().numpy() - pad
        scores = scores.double().cpu().numpy()
        order = np.argsort(-scores, kind="stable")
        return [Detection(box=boxes[i], score=float(scores[i]), landmarks=points[i]) for i in order]

    def best_face(self, image: np.ndarray) -> Detection | None:
        """The highest-scoring face, or None when no face passes the thresholds."""
        found = self.detect(image)
        return found[0] if found else None

    # ---- cascade ---------------------------------------------------------------------------
    def _scales(self, h: int, w: int) -> list[float]:
        # Scale so that min_face_size maps to the 12 px P-Net window, then shrink by `factor`
        # while the shorter side still holds one window.
        scale = PNET_CELL / self.min_face_size
        side = min(h, w) * scale
        scales = []
        while side >= PNET_CELL:
            scales.append(scale)
            scale *= self.factor
            side *= self.factor
        return scales

    def _stage1(self, img: torch.Tensor) -> torch.Tensor:
        """P-Net proposals over the pyramid: (N, 5) squared boxes + score."""
        _, h, w = img.shape
        found = []
        for s in self._scales(h, w):
            small = F.interpolate(img[None], size=(int(h * s + 1), int(w * s + 1)), mode="area")
            reg, prob = self.pnet((small - 127.5) * 0.0078125)
            ys, xs = torch.nonzero(prob[0] >= self.thresholds[0], as_tuple=True)
            if ys.numel() == 0:
                continue
            score = prob[0, ys, xs]
            cell = torch.stack([xs, ys], dim=1).to(img.dtype) * PNET_STRIDE
            # Window of output cell (x, y) in 1-based inclusive input pixels, mapped back by 1/s.
            q1 = ((cell + 1) / s).floor()
            q2 = ((cell + PNET_CELL) / s).floor()
            cand = torch.cat([q1, q2, score[:, None], reg[0, :, ys, xs].T], dim=1)
            found.append(cand[nms(cand[:, :4], cand[:, 4], 0.5)])
        if not found:
            return torch.zeros(0, 5, device=img.device)
        cand = torch.cat(found)
        cand = cand[nms(cand[:, :4], cand[:, 4], 0.7)]
        boxes = _square(_regress(cand[:, :4], cand[:, 5:9], inclusive=False))
        return torch.cat([boxes, cand[:, 4:5]], dim=1)

    def _cascade(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        empty = (torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 5, 2))
        cand = self._stage1(img)
        if len(cand) == 0:
            return empty

        # Stage 2: R-Net re-scores and refines the proposals.
        reg, prob = self.rnet(_crops(img, cand[:, :4], 24))
        ok = prob > self.thresholds[1]
        boxes, prob, reg = cand[ok, :4], prob[ok], reg[ok]
        keep = nms(boxes, prob, 0.7)
        if len(keep) == 0:
            return empty
        boxes = _square(_regress(boxes[keep], reg[keep], inclusive=True))

        # Stage 3: O-Net scores, refines and places the 5 landmarks.
        reg, marks, prob = self.onet(_crops(img, boxes, 48))
        ok = prob > self.thresholds[2]
        boxes, prob, reg, marks = boxes[ok], prob[ok], reg[ok], marks[ok]
        if len(boxes) == 0:
            return empty
        w = boxes[:, 2:3] - boxes[:, 0:1] + 1
        h = boxes[:, 3:4] - boxes[:, 1:2] + 1
        # Landmarks are relative to the O-Net input box; "- 1" converts 1-based x1 to 0-based.
        points = torch.stack([boxes[:, 0:1] - 1 + w * marks[:, :5],
                              boxes[:, 1:2] - 1 + h * marks[:, 5:]], dim=2)
        boxes = _regress(boxes, reg, inclusive=True)
        keep = nms(boxes, prob, 0.7, mode="min", inclusive=True)
        return boxes[keep].cpu(), prob[keep].cpu(), points[keep].cpu()
