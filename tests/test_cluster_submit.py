"""A real Ray head (`ray start --head` on 127.0.0.1 with its job server): `facesynth submit`
runs a tiny generation job made from ray_job.yaml through the Jobs API, and `generate
--address ray://` drives one from outside through Ray Client; both leave complete datasets. The head lives in its own temp dir and process group and is stopped
by killing exactly those processes (`ray stop` would also end other Ray instances)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from cluster_util import alive, assert_exactly_once, kill_tree, tree

from cluster.config import load_job_config

REPO = Path(__file__).resolve().parents[1]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def ray_head():
    gcs, dash, client, agent = _free_ports(4)
    temp = tempfile.mkdtemp(prefix="fsh", dir="/tmp")  # short: Ray's unix sockets live under it
    ray_bin = Path(sys.executable).with_name("ray")
    cmd = [str(ray_bin), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}",
           "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--include-dashboard=true",
           f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent}",
           "--num-cpus=3", "--num-gpus=0", f"--temp-dir={temp}", "--disable-usage-stats"]
    p = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, _ = p.communicate(timeout=180)
        assert p.returncode == 0, log[-3000:]
        yield {"jobs": f"http://127.0.0.1:{dash}", "client": f"ray://127.0.0.1:{client}"}
    finally:
        procs = tree(p.pid)  # the head's daemons keep the process group of `ray start`
        kill_tree(p.pid, also=procs)
        assert not alive(procs)
        subprocess.run(["rm", "-rf", temp], check=False)


def test_submit_runs_generation_on_a_real_head(ray_head, tmp_path, face_model):
    """The Must: a tiny generation job through the job server."""
    spec = yaml.safe_load((REPO / "ray_job.yaml").read_text())
    out = tmp_path / "ds"
    # The head runs this venv's python, so the job does too; the cluster has no PyPI access
    # here, and the venv already holds what runtime_env.pip would install.
    spec["entrypoint"] = (f"{sys.executable} -m cluster.cli generate --config configs/smoke.yaml "
                          f"--out {out} --address auto --no-progress")
    spec["runtime_env"].pop("pip")
    spec["runtime_env"]["working_dir"] = str(REPO)
    spec["runtime_env"]["env_vars"]["FACESYNTH_HOME"] = os.environ["FACESYNTH_HOME"]
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(spec))

    r = subprocess.run([sys.executable, "-m", "cluster.cli", "submit", str(job), "--address", ray_head["jobs"]],
                       cwd=REPO, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "SUCCEEDED" in r.stdout.splitlines()[-1]
    assert "complete: 32 images of 8 identities" in r.stdout  # the job's own summary, streamed back
    assert_exactly_once(out, load_job_config(REPO / "configs" / "smoke.yaml"))


def test_generate_joins_through_ray_client(ray_head, tmp_path, face_model):
    """ray:// drivers cannot follow streaming generators: units report when they finish."""
    out = tmp_path / "ds"
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "generate", "--config", "configs/smoke.yaml",
                        "--out", str(out), "--address", ray_head["client"], "--no-progress", "--json"],
                       cwd=REPO, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["workers"] >= 1
    assert_exactly_once(out, load_job_config(REPO / "configs" / "smoke.yaml"))
