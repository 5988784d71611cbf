"""Real Ray heads (`ray start --head` on 127.0.0.1 with its job server).

The submission tests run against a head started from a Python environment that has
facesynth's dependencies but not facesynth itself, as on a stock Ray cluster: the job only
works because Ray ships the checkout as working_dir. Both ways of submitting are run: Ray's
own `ray job submit` with ray_runtime_env.yaml, and `facesynth submit ray_job.yaml`. A second
head from the development environment serves `generate --address ray://` (Ray Client).
Each head lives in its own temp dir and process group and is stopped by killing exactly those
processes (`ray stop` would also end other Ray instances)."""
from __future__ import annotations

import json
import os
import secrets
import shlex
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from cluster_util import alive, assert_exactly_once, kill_tree, tree

from cluster.config import load_job_config

REPO = Path(__file__).resolve().parents[1]
SMOKE = load_job_config(REPO / "configs" / "smoke.yaml")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start_head(ray_cmd: list[str], env: dict | None = None):
    """Start a head; yield its addresses; kill its whole process tree afterwards."""
    gcs, dash, client, agent = _free_ports(4)
    temp = tempfile.mkdtemp(prefix="fsh", dir="/tmp")  # short: Ray's unix sockets live under it
    cmd = ray_cmd + ["start", "--head", "--node-ip-address=127.0.0.1", f"--port={gcs}",
                     "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}", "--include-dashboard=true",
                     f"--ray-client-server-port={client}", f"--dashboard-agent-listen-port={agent}",
                     "--num-cpus=3", "--num-gpus=0", f"--temp-dir={temp}", "--disable-usage-stats"]
    p = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=env, cwd=temp)
    try:
        log, _ = p.communicate(timeout=180)
        assert p.returncode == 0, log[-3000:]
        yield {"jobs": f"http://127.0.0.1:{dash}", "client": f"ray://127.0.0.1:{client}"}
    finally:
        procs = tree(p.pid)  # the head's daemons keep the process group of `ray start`
        kill_tree(p.pid, also=procs)
        assert not alive(procs)
        subprocess.run(["rm", "-rf", temp], check=False)


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory) -> dict:
    """A virtualenv with this environment's packages but not facesynth: a .pth line lists the
    dev venv's site-packages as a plain path, so the .pth files inside it (the editable
    install's finder among them) are not run. It gets a stock `ray` script of its own."""
    root = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "facesynth_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    ray = root / "bin" / "ray"
    ray.write_text(f"#!{python}\nimport sys\nfrom ray.scripts.scripts import main\nsys.exit(main())\n")
    ray.chmod(0o755)
    # Token auth, as a production head has it (and as `ray start` turns on by itself wherever
    # ~/.ray/auth_token exists): the head, the job and every client get this token.
    env = dict(os.environ, PATH=f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(root),
               RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    env.pop("PYTHONPATH", None)
    return {"python": python, "ray": ray, "env": env, "root": root}


def test_bare_env_has_the_dependencies_but_not_facesynth(bare_env, tmp_path):
    def run(code):
        return subprocess.run([str(bare_env["python"]), "-c", code], cwd=tmp_path, env=bare_env["env"],
                              capture_output=True, text=True)
    assert run("import ray, pyarrow, pyrender, pydantic").returncode == 0
    for mod in ("cluster", "core", "gen"):
        r = run(f"import {mod}")
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, (mod, r.stderr[-500:])


@pytest.fixture(scope="module")
def bare_head(bare_env):
    yield from _start_head([str(bare_env["ray"])], env=bare_env["env"])


@pytest.fixture(scope="module")
def ray_head():
    yield from _start_head([str(Path(sys.executable).with_name("ray"))])


def _runtime_env_for_test(tmp_path: Path) -> Path:
    """ray_runtime_env.yaml as shipped, less `pip` (the cluster has no PyPI here; the bare env
    already holds those packages) and with the test's face-model cache."""
    env = yaml.safe_load((REPO / "ray_runtime_env.yaml").read_text())
    env.pop("pip")
    env["env_vars"]["FACESYNTH_HOME"] = os.environ["FACESYNTH_HOME"]
    path = tmp_path / "runtime_env.yaml"
    path.write_text(yaml.safe_dump(env))
    return path


def _entrypoint(out: Path) -> list[str]:
    """ray_job.yaml's entrypoint with the smoke config and a local --out."""
    words = yaml.safe_load((REPO / "ray_job.yaml").read_text())["entrypoint"].split()
    assert words[:4] == ["python", "-m", "cluster.cli", "generate"]
    words[words.index("--config") + 1] = "configs/smoke.yaml"
    words[words.index("--out") + 1] = str(out)
    return words


def test_stock_ray_job_submit_runs_an_uninstalled_checkout(bare_env, bare_head, tmp_path, face_model):
    """The stock CLI, from outside the checkout: `ray job submit --runtime-env ... --working-dir REPO`."""
    out = tmp_path / "ds"
    cmd = [str(bare_env["ray"]), "job", "submit", "--address", bare_head["jobs"],
           "--runtime-env", str(_runtime_env_for_test(tmp_path)), "--working-dir", str(REPO),
           "--entrypoint-num-cpus", "1", "--log-style", "record", "--",
           # The documented entrypoint, after a line that names the python running the driver.
           "sh", "-c", "python -c 'import sys; print(\"driver:\", sys.executable)' && exec "
           + shlex.join(_entrypoint(out))]
    r = subprocess.run(cmd, cwd=tmp_path, env=bare_env["env"], capture_output=True, text=True, timeout=500)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert f"driver: {bare_env['python']}" in r.stdout  # the bare env's python ran the job
    assert "complete: 32 images of 8 identities" in r.stdout  # the job's own summary, streamed back
    assert_exactly_once(out, SMOKE)


def test_facesynth_submit_runs_ray_job_yaml_on_a_bare_head(bare_env, bare_head, tmp_path, face_model):
    """`facesynth submit` with ray_job.yaml (its runtime env file, entrypoint and resources)."""
    spec = yaml.safe_load((REPO / "ray_job.yaml").read_text())
    out = tmp_path / "ds"
    spec["entrypoint"] = " ".join(_entrypoint(out))
    spec["runtime_env"] = str(_runtime_env_for_test(tmp_path))
    env = yaml.safe_load(Path(spec["runtime_env"]).read_text())
    env["working_dir"] = str(REPO)
    Path(spec["runtime_env"]).write_text(yaml.safe_dump(env))
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(spec))

    r = subprocess.run([sys.executable, "-m", "cluster.cli", "submit", str(job), "--address", bare_head["jobs"]],
                       cwd=REPO, capture_output=True, text=True, timeout=500,
                       env=dict(os.environ, RAY_AUTH_TOKEN=bare_env["env"]["RAY_AUTH_TOKEN"]))
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "SUCCEEDED" in r.stdout.splitlines()[-1]
    assert "complete: 32 images of 8 identities" in r.stdout
    assert_exactly_once(out, SMOKE)


def test_submit_refuses_a_job_file_given_as_runtime_env(tmp_path):
    from cluster.submit import load_job_spec
    from core.errors import FacesynthError
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"entrypoint": "echo", "runtime_env": str(REPO / "ray_job.yaml")}))
    with pytest.raises(FacesynthError, match="job-file key"):
        load_job_spec(job)


def test_generate_joins_through_ray_client(ray_head, tmp_path, face_model):
    """ray:// drivers cannot follow streaming generators: units report when they finish."""
    port = int(ray_head["client"].rsplit(":", 1)[1])
    # `ray start` returns before its client proxy listens; and Ray has been seen to bind that proxy
    # to the host's own address instead of loopback, which these tests cannot reach.
    deadline = time.monotonic() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                pytest.skip(f"Ray's client proxy is not listening on 127.0.0.1:{port} after 90 s")
            time.sleep(1)
    out = tmp_path / "ds"
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "generate", "--config", "configs/smoke.yaml",
                        "--out", str(out), "--address", ray_head["client"], "--no-progress", "--json"],
                       cwd=REPO, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["workers"] >= 1
    assert_exactly_once(out, SMOKE)
