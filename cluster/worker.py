"""The render actor: loads the face model and the renderer once, then turns work units into
committed Parquet shards written straight to the output filesystem."""
from __future__ import annotations

import os
import time

import pyarrow.parquet as pq

from cluster.config import config_hash, image_format, keeps_full_frame, parse_job_config
from cluster.schema import BINARY_COLUMNS, arrow_schema, leaf_paths, records_to_table
from cluster.storage import TMP_DIR, commit_file, file_sha256, resolve, temp_name


def _pin_egl_device() -> None:
    """Render on the GPU Ray gave this actor: EGL enumerates every device on the node."""
    try:
        import ray
        gpus = ray.get_gpu_ids()
    except Exception:
        gpus = []
    if gpus and "EGL_DEVICE_ID" not in os.environ:
        os.environ["EGL_DEVICE_ID"] = str(gpus[0])


class RenderActor:
    def __init__(self, cfg_dict: dict, out_uri: str, run_id: str, variants: list[int] | None = None):
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        _pin_egl_device()
        from gen.facemodel import load_model
        from render.pipeline import ImageMaker

        self.cfg = parse_job_config(cfg_dict)
        self.out = resolve(out_uri)
        self.run_id = run_id  # carried by temp names: a run deletes only its own temp files
        model = load_model(self.cfg.gen.model)
        self.maker = ImageMaker(model, self.cfg.gen, self.cfg.render, self.cfg.seed,
                                variants=None if variants is None else dict(enumerate(variants)))
        self.schema = arrow_schema(
            len(model.expr_names), keeps_full_frame(self.cfg),
            meta={"config_hash": config_hash(self.cfg), "image_format": image_format(self.cfg),
                  "expression_names": list(model.expr_names)})
        out = self.cfg.output
        leaves = leaf_paths(self.schema)
        self._write_opts = dict(
            compression={n: ("none" if n in BINARY_COLUMNS else out.compression) for n in leaves},
            # min/max statistics of image bytes are useless and large
            write_statistics=[n for n in leaves if n not in BINARY_COLUMNS],
            use_dictionary=["background", "model_name", "model_version"],
        )

    def ready(self) -> dict:
        return {"pid": os.getpid(), "egl_device": os.environ.get("EGL_DEVICE_ID")}

    def run_unit(self, unit: int, first: int, end: int, name: str):
        """Render identities [first, end) and commit them as shard `name`.

        A generator (Ray streaming): yields {"kind": "progress"} after each identity, then
        {"kind": "done"} once the shard holds its final name."""
        t0 = time.perf_counter()
        out, n_img = self.out, self.cfg.images_per_identity
        rg = self.cfg.output.row_group_rows
        tmp = out.path(TMP_DIR, temp_name(name, self.run_id))
        rows = 0
        self.maker.fresh_renderer()  # the unit's bytes must not depend on the units before it
        try:
            with out.fs.open_output_stream(tmp) as stream, \
                    pq.ParquetWriter(stream, self.schema, **self._write_opts) as writer:
                buf: list = []
                for i in range(first, end):
                    ident = self.maker.identity(i)
                    for j in range(n_img):
                        buf.append(self.maker.render(ident, j))
                        if len(buf) == rg:
                            writer.write_table(records_to_table(buf, self.schema), row_group_size=rg)
                            rows += len(buf)
                            buf = []
                    yield {"kind": "progress", "unit": unit, "identity": i, "images": n_img}
                if buf:
                    writer.write_table(records_to_table(buf, self.schema), row_group_size=rg)
                    rows += len(buf)
            sha256 = file_sha256(out, tmp)  # read back: the checksum is of the bytes stored
            commit_file(out, tmp, out.path(name))
        except BaseException:
            try:
                out.fs.delete_file(tmp)
            except Exception:
                pass
            raise
        size = out.fs.get_file_info(out.path(name)).size
        yield {"kind": "done", "unit": unit, "file": name, "rows": rows, "bytes": int(size), "sha256": sha256,
               "identities": [first, end], "seconds": time.perf_counter() - t0, "pid": os.getpid()}

    def run_unit_blocking(self, unit: int, first: int, end: int, name: str) -> dict:
        """run_unit for Ray Client drivers (ray://), which cannot follow streaming methods:
        returns only the final {"kind": "done"} message."""
        last = None
        for last in self.run_unit(unit, first, end, name):
            pass
        return last
