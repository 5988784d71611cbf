"""Training throughput (images/s, forward + backward + SGD step, data loading included).

CPU: MobileFaceNet (full width, 112x112, batch 64, AMP off). GPU (only where CUDA is visible):
iResNet-50 with AMP + channels_last vs fp32, through `facesynth train`'s own loop; and the same
AMP step on batches already on the GPU (`..._model_only_...`), which says how much of the GPU the
loader's workers keep fed. Data: constructed face-like JPEGs in Parquet.
Prints one JSON line; GPU keys are null without a GPU.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # constructed face-like test images

import torch  # noqa: E402

from recognition import train  # noqa: E402
from recognition.backbones import build_backbone  # noqa: E402
from recognition.config import TrainConfig  # noqa: E402
from recognition.losses import MarginHead  # noqa: E402
from testdata import write_parquet  # noqa: E402


def throughput(tmp: Path, name: str, backbone: str, steps: int, batch: int, device: str, amp: bool,
               workers: int, threads: int | None) -> float:
    """images/s over the second half of a short run (the first half warms up caches and kernels)."""
    cfg = TrainConfig.model_validate({
        "out": str(tmp / name), "steps": steps, "batch_size": batch, "log_every": steps // 2,
        "device": device, "amp": amp, "channels_last": amp, "threads": threads,
        "model": {"backbone": backbone},
        "data": {"sources": [{"kind": "parquet", "path": str(tmp / "data.parquet")}], "num_workers": workers}})
    train.run(cfg, progress=False)
    last = json.loads((tmp / name / "log.jsonl").read_text().splitlines()[-1])
    return last["images_per_s"]


def model_only(batch: int, steps: int, classes: int = 10_000) -> float:
    """iResNet-50 AMP + channels_last training steps on one random batch held on the GPU: the
    model's own rate, without data loading (images/s over `steps` after 10 warm-up steps)."""
    dev = torch.device("cuda")
    model = build_backbone("iresnet50", 512, 1.0, 0.0, 112).to(dev, memory_format=torch.channels_last)
    head = MarginHead(512, classes).to(dev)
    opt = torch.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda")
    x = torch.randn(batch, 3, 112, 112, device=dev).to(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (batch,), device=dev)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.float16):
            loss = head(model(x), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(10):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        write_parquet(tmp / "data.parquet", identities=50, images_per_identity=8)
        t0 = time.perf_counter()
        cpu = throughput(tmp, "cpu", "mobilefacenet", steps=12, batch=64, device="cpu", amp=False,
                         workers=1, threads=2)
        cpu_s = time.perf_counter() - t0
        gpu_amp = gpu_fp32 = gpu_model = None
        if torch.cuda.is_available():
            gpu_fp32 = throughput(tmp, "fp32", "iresnet50", 40, 256, "cuda", False, 8, None)
            gpu_amp = throughput(tmp, "amp", "iresnet50", 40, 256, "cuda", True, 8, None)
            gpu_model = model_only(256, 30)
    print(json.dumps({
        "cpu_mobilefacenet_images_per_s": cpu,
        "cpu_setup": "MobileFaceNet x1.0, 112x112, batch 64, 2 threads, 1 loader worker, DigiFace-1M augmentation",
        "cpu_run_s": round(cpu_s, 1),
        "gpu_iresnet50_amp_images_per_s": gpu_amp,
        "gpu_iresnet50_fp32_images_per_s": gpu_fp32,
        "gpu_iresnet50_amp_model_only_images_per_s": round(gpu_model, 1) if gpu_model else None,
        "gpu_setup": "iResNet-50, 112x112, batch 256, ArcFace head, SGD; 8 loader workers" if gpu_model else None,
        "gpu_amp_speedup": round(gpu_amp / gpu_fp32, 2) if gpu_amp and gpu_fp32 else None,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }))


if __name__ == "__main__":
    main()
