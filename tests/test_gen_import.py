"""Model import and cache: from the upstream .tar.xz, from a folder, from a download served on
127.0.0.1, and bad input through the CLI (exit 2, one line naming the file, no cache written).

Each test imports into its own FACESYNTH_HOME under tmp_path, so the shared session cache
(tests/conftest.py) is never touched.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gen import registry
from core.errors import FacesynthError
from gen.modelcache import read_cached

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def cli(args: list[str], home: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, FACESYNTH_HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("FACESYNTH_ICT_SOURCE", None)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, "-m", "cluster.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("facesynth: error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def no_model_in(home: Path) -> bool:
    models = home / "models"
    return not models.exists() or not any(models.iterdir())


def check_model(home: Path) -> None:
    m = read_cached("ict-facekit", home / "models")
    assert m is not None
    V = 26719
    assert m.neutral.shape == (V, 3) and m.neutral.dtype == np.float32
    assert m.id_basis.shape == (100, V, 3) and m.id_std.shape == (100,)
    assert m.expr_basis.shape == (53, V, 3) and len(m.expr_names) == 53 and "jawOpen" in m.expr_names
    assert m.faces.shape[1] == 3 and m.faces.max() < V and m.faces.min() >= 0
    assert m.face_uvs.shape == m.faces.shape and m.face_uvs.max() < len(m.uvs)
    assert len(m.face_region) == len(m.faces) and "M_Face" in m.region_names
    assert m.landmarks68.shape == (68,) and m.landmarks68.max() < V
    assert m.vertex_regions["face"] == (0, 9409)
    assert m.meta["content_sha256"] == registry.ICT_CONTENT_SHA256
    assert "MIT" in (home / "models" / "ict-facekit" / "LICENSE").read_text()
    # The modes are deltas: neutral + mode differs from neutral, and shape() combines them.
    v = m.shape(np.eye(100, dtype=np.float32)[0])
    np.testing.assert_allclose(v, m.neutral + m.id_basis[0], atol=1e-5)
    assert np.abs(m.id_basis[0]).max() > 0.01


@pytest.fixture(scope="module")
def extracted(ict_source, tmp_path_factory) -> Path:
    """An upstream checkout layout (LICENSE, README.md, FaceXModel/) extracted from the archive."""
    root = tmp_path_factory.mktemp("ict-checkout")
    if Path(ict_source).is_dir():
        return Path(ict_source)
    with tarfile.open(ict_source) as t:
        t.extractall(root, filter="data")
    assert (root / "FaceXModel" / "generic_neutral_mesh.obj").is_file()
    return root


def test_import_tar_xz_then_list(ict_source, tmp_path):
    home = tmp_path / "home"
    proc = cli(["models", "import", "ict-facekit", str(ict_source)], home)
    assert proc.returncode == 0, proc.stderr
    check_model(home)
    listed = cli(["models", "list"], home)
    assert listed.returncode == 0
    assert "ict-facekit" in listed.stdout and "26719 vertices" in listed.stdout and "53 expressions" in listed.stdout
    # Nothing but the model folder is left in the cache (no temp folders).
    assert sorted(p.name for p in (home / "models").iterdir()) == ["ict-facekit"]


def test_list_empty_home(tmp_path):
    proc = cli(["models", "list"], tmp_path / "empty")
    assert proc.returncode == 0 and "no models installed" in proc.stdout


def test_import_from_facexmodel_folder(extracted, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FACESYNTH_HOME", str(home))
    registry.import_model("ict-facekit", extracted / "FaceXModel", progress=False)
    check_model(home)


def _serve(folder: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture
def no_local_source(tmp_path, monkeypatch):
    monkeypatch.delenv("FACESYNTH_ICT_SOURCE", raising=False)
    monkeypatch.setattr(registry, "dev_shared_dir", lambda: tmp_path / "no-shared-here")
    home = tmp_path / "home"
    monkeypatch.setenv("FACESYNTH_HOME", str(home))
    return home


def test_download_from_local_http_server(ict_source, no_local_source, monkeypatch):
    assert registry.find_ict_source() is None  # nothing local: the download path is taken
    httpd = _serve(Path(ict_source).parent)
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/{Path(ict_source).name}"
        monkeypatch.setenv("FACESYNTH_ICT_URL", url)
        registry.import_model("ict-facekit", progress=False)
    finally:
        httpd.shutdown()
    check_model(no_local_source)
    downloads = no_local_source / "downloads"
    assert not [p for p in downloads.iterdir() if p.name.startswith(".")]  # no partial file left


def test_tampered_download_fails_checksum(extracted, no_local_source, tmp_path, monkeypatch):
    # A zip of the upstream files with one vertex of one identity OBJ moved: the archive is
    # valid, so only the content checksum catches it.
    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "ict.zip", "w", zipfile.ZIP_STORED) as z:
        z.write(extracted / "LICENSE", "ICT-FaceKit/LICENSE")
        for p in sorted((extracted / "FaceXModel").iterdir()):
            data = p.read_bytes()
            if p.name == "identity007.obj":
                i = data.index(b"\nv ") + 3
                j = data.index(b" ", i)
                data = data[:i] + b"%.6f" % (float(data[i:j]) + 0.5) + data[j:]
            z.writestr(f"ICT-FaceKit/FaceXModel/{p.name}", data)
    httpd = _serve(served)
    try:
        monkeypatch.setenv("FACESYNTH_ICT_URL", f"http://127.0.0.1:{httpd.server_port}/ict.zip")
        with pytest.raises(FacesynthError, match="checksum mismatch"):
            registry.import_model("ict-facekit", progress=False)
        # A missing file on the server is a one-line download error, too.
        monkeypatch.setenv("FACESYNTH_ICT_URL", f"http://127.0.0.1:{httpd.server_port}/missing.zip")
        with pytest.raises(FacesynthError, match="download failed"):
            registry.import_model("ict-facekit", progress=False)
    finally:
        httpd.shutdown()
    assert no_model_in(no_local_source)
    downloads = no_local_source / "downloads"
    assert not downloads.exists() or list(downloads.iterdir()) == []  # bad download removed, no partials


# ---- bad input through the CLI --------------------------------------------------------------

def test_missing_archive(tmp_path):
    home = tmp_path / "home"
    missing = tmp_path / "nope.tar.xz"
    assert_one_line_error(cli(["models", "import", "ict-facekit", str(missing)], home), str(missing))
    assert no_model_in(home)


def test_corrupt_archive(ict_source, tmp_path):
    home = tmp_path / "home"
    bad = tmp_path / "truncated.tar.xz"
    with open(ict_source, "rb") as f:
        bad.write_bytes(f.read(2_000_000))
    line = assert_one_line_error(cli(["models", "import", "ict-facekit", str(bad)], home), str(bad))
    assert "download it again" in line or "corrupt" in line
    assert no_model_in(home)
    junk = tmp_path / "junk.tar.xz"
    junk.write_bytes(b"not an archive at all")
    assert_one_line_error(cli(["models", "import", "ict-facekit", str(junk)], home), str(junk))
    assert no_model_in(home)


def test_obj_with_wrong_vertex_count(extracted, tmp_path):
    # A checkout whose identity042.obj lost its last vertex; every other file is a symlink.
    src = tmp_path / "FaceXModel"
    src.mkdir()
    for p in (extracted / "FaceXModel").iterdir():
        (src / p.name).symlink_to(p)
    (src / "LICENSE").symlink_to(extracted / "LICENSE")
    bad = src / "identity042.obj"
    bad.unlink()
    lines = (extracted / "FaceXModel" / "identity042.obj").read_text().splitlines(keepends=True)
    last_v = max(i for i, l in enumerate(lines) if l.startswith("v "))
    bad.write_text("".join(lines[:last_v] + lines[last_v + 1:]))
    home = tmp_path / "home"
    line = assert_one_line_error(cli(["models", "import", "ict-facekit", str(src)], home),
                                 "identity042.obj", "26718 vertices", "expected 26719")
    assert str(src) in line
    assert no_model_in(home)


def test_unknown_model_name(tmp_path):
    home = tmp_path / "home"
    assert_one_line_error(cli(["models", "import", "basel-2099"], home), "unknown model 'basel-2099'", "ict-facekit")
    assert no_model_in(home)


def test_out_of_range_config_value(tmp_path):
    home = tmp_path / "home"
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("appearance:\n  texture_size: 10\n")
    out = tmp_path / "export"
    line = assert_one_line_error(cli(["models", "export-identity", "--index", "0", "--config", str(cfg),
                                      "--out", str(out)], home), str(cfg), "appearance.texture_size")
    assert "64" in line  # says what the allowed range is
    assert not out.exists() and no_model_in(home)  # validated before any import or write
    cfg.write_text("identity:\n  psi: -1\n")
    assert_one_line_error(cli(["models", "export-identity", "--index", "0", "--config", str(cfg),
                               "--out", str(out)], home), "identity.psi")
    cfg.write_text("expression:\n  neutral_prob: 0.2\n  smile_prob: 0.5\n")
    assert_one_line_error(cli(["models", "export-identity", "--index", "0", "--config", str(cfg),
                               "--out", str(out)], home), "expression.smile_prob", "unknown key")
    assert not out.exists() and no_model_in(home)
