"""The dataset card (README.md) of a Hugging Face export: YAML metadata the Hub reads (licence,
size, which files form the train split), then how the data was made, its config, its counts,
its columns and the licences that apply."""
from __future__ import annotations

import math

import yaml

from core.version import version

# Licence of each face model the renders derive from (gen/registry.py lists the models).
MODEL_LICENCES = {
    "ict-facekit": ("mit", "ICT Face Model Light (ICT-FaceKit, USC Institute for Creative Technologies), "
                           "MIT licence: keep its copyright and licence notice with the data"),
    "bfm2017": ("other", "Basel Face Model 2017, licensed per user by the University of Basel: "
                         "check your licence before sharing data rendered from it"),
    "bfm2009": ("other", "Basel Face Model 2009, licensed per user by the University of Basel: "
                         "check your licence before sharing data rendered from it"),
}

COLUMNS = {
    "image": "aligned face crop (`datasets.Image`; the encoded JPEG/PNG as rendered)",
    "label": "dense class id 0..K-1 (identities in ascending order)",
    "identity": "identity index in the generator (label k is the k-th smallest)",
    "image_index": "index of the image within its identity",
    "yaw, pitch, roll": "head pose in degrees",
    "landmarks5, landmarks68": "2D landmarks in crop pixels (x, y pairs)",
    "expression": "blendshape weights (names in the Parquet metadata `facesynth.expression_names`)",
    "full_image": "the uncropped render (`datasets.Image`), when the job kept it",
}


def _size_category(n: int) -> str:
    bins = ["n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B"]
    return bins[min(len(bins) - 1, max(0, int(math.log10(max(n, 1))) - 2))]


def dataset_card(src, stats: dict, license_id: str | None = None) -> str:
    m = src.manifest
    cfg = m.get("config", {})
    model = cfg.get("gen", {}).get("model", "ict-facekit")
    model_licence, model_text = MODEL_LICENCES.get(model, ("other", f"face model {model}: see its licence"))
    license_id = license_id or model_licence
    n, k = stats["images"], stats["identities"]
    header = {
        "license": license_id,
        "pretty_name": f"facesynth synthetic faces ({k} identities x {n // max(k, 1)} images)",
        "tags": ["synthetic", "face-recognition", "facesynth"],
        "task_categories": ["image-classification", "image-feature-extraction"],
        "size_categories": [_size_category(n)],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
    }
    out = ["---", yaml.safe_dump(header, sort_keys=False).rstrip(), "---", "",
           "# facesynth synthetic faces", "",
           "Synthetic face images for training face recognition, rendered by "
           "facesynth from a 3D morphable face model: each identity is a random "
           "shape and appearance of the model, each image a random pose, expression, lighting, "
           "background and degradation of it. The renders use no photograph of a real person.", "",
           "## How it was made", "",
           f"- generator: {m.get('created_by', 'facesynth')}; exported by facesynth {version()}",
           f"- config hash: `{m.get('config_hash', '?')}` (facesynth's hash of the config below: the same "
           "config renders the same bytes)",
           f"- source dataset: `{src.uri}`",
           "- made with `facesynth generate --config CONFIG --out DATASET`, then "
           "`facesynth export DATASET --to hf --out DIR`", "",
           "## Counts", "",
           f"- images: {n}", f"- identities (classes): {k}",
           f"- images per identity: {int(src.labels.counts.min())}..{int(src.labels.counts.max())}",
           f"- image format: {m.get('image_format', '?')}, files: {len(stats['files'])} Parquet shards", "",
           "## Use", "", "```python", "import datasets",
           'ds = datasets.load_dataset("path/to/this/folder", split="train")',
           'ds[0]["image"]   # PIL image; ds[0]["label"] in 0..K-1', "```", "",
           "## Columns", ""]
    out += [f"- `{c}`: {d}" for c, d in COLUMNS.items()]
    out += ["", "Every other column records how the image was rendered (camera, lights, background, "
            "degradations, seed, face model); facesynth's docs/schema.md documents them.", "",
            "## Licences", "",
            f"- face model: {model_text}.",
            f"- this data: `{license_id}`. The images are renders of the face model above, so its terms "
            "travel with them.",
            "- facesynth (the generator): Apache-2.0.", "",
            "## Config", "", "```yaml", yaml.safe_dump(cfg, sort_keys=True).rstrip(), "```", ""]
    return "\n".join(out)
