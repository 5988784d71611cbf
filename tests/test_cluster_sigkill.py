"""Kill `facesynth generate` mid-run — SIGKILL of the driver and its embedded Ray, or Ctrl-C
(SIGINT to the whole process group, as a terminal sends it) — rerun the same command, and get
every (identity, image_index) exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cluster_util import alive, assert_exactly_once, kill_tree, tree

from cluster.config import load_job_config, n_units
from cluster.storage import MANIFEST

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["sigkill", "ctrl-c"])
def test_killed_driver_then_rerun_is_exactly_once(sig, tmp_path, face_model):
    data = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    # 24 one-identity units: the kill lands with most of them still to do, even on a fast machine
    data["identities"] = 24
    data["ray"]["unit_identities"] = 1
    cfg_path = tmp_path / "job.yaml"
    cfg_path.write_text(yaml.safe_dump(data))
    cfg = load_job_config(cfg_path)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "cluster.cli", "generate", "--config", str(cfg_path), "--out", str(out),
           "--workers", "2", "--no-progress"]

    # A shell that runs us in the background without job control (CI) sets SIGINT to "ignore", and
    # children inherit that: give the driver the default disposition a terminal's process has.
    p = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    procs: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("part-*.parquet")):
            assert p.poll() is None, f"generate ended before the kill: {p.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "no shard committed in time"
            time.sleep(0.02)
        procs = tree(p.pid)  # the driver, its Ray (gcs, raylet) and the actors
        os.killpg(p.pid, sig)
        if sig == signal.SIGINT:  # the driver stops on its own, keeping what is committed
            assert p.wait(timeout=120) == 130
            assert "rerun the same command to resume" in p.stderr.read()
    finally:
        kill_tree(p.pid, also=procs | tree(p.pid))
        p.wait()
    assert not alive(procs), "processes of the killed run survived"
    committed = sorted(x.name for x in out.glob("part-*.parquet"))
    assert 0 < len(committed) < n_units(cfg), committed
    before = json.loads((out / MANIFEST).read_text())
    assert not before["complete"]

    r = subprocess.run(cmd + ["--json"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["units_resumed"] >= 1
    assert summary["units_resumed"] + summary["units_written"] == n_units(cfg)
    assert_exactly_once(out, cfg)
