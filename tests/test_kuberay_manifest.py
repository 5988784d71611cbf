"""cluster/kuberay-rayjob.yaml is a valid RayJob (checked against the CRD's OpenAPI schema,
kept trimmed in tests/fixtures/) and runs the same job as ray_job.yaml: same entrypoint, same
driver CPUs, same pip and env_vars, a head with room for the driver, and worker replicas that
cannot drift (fixed, or the autoscaler on)."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema  # a test extra (and a dependency of Ray)
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "tests" / "fixtures" / "rayjob-crd-v1.schema.yaml").read_text())
MANIFEST = yaml.safe_load((REPO / "cluster" / "kuberay-rayjob.yaml").read_text())


def schema_errors(doc) -> list[str]:
    v = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def consistency_problems(m: dict) -> list[str]:
    job = yaml.safe_load((REPO / "ray_job.yaml").read_text())
    env = yaml.safe_load((REPO / "ray_runtime_env.yaml").read_text())
    spec, problems = m["spec"], []
    if spec["entrypoint"] != job["entrypoint"]:
        problems.append("entrypoint differs from ray_job.yaml")
    if spec.get("entrypointNumCpus", 0) != job.get("entrypoint_num_cpus", 0):
        problems.append("entrypointNumCpus differs from ray_job.yaml's entrypoint_num_cpus")
    renv = yaml.safe_load(spec["runtimeEnvYAML"])
    for key in ("pip", "env_vars"):
        if renv.get(key) != env.get(key):
            problems.append(f"runtimeEnvYAML.{key} differs from ray_runtime_env.yaml")
    if "://" not in renv.get("working_dir", ""):
        problems.append("runtimeEnvYAML.working_dir must be a URI the cluster can fetch")
    rcs = spec["rayClusterSpec"]
    head_cpus = float(rcs["headGroupSpec"].get("rayStartParams", {}).get("num-cpus", "inf"))
    if head_cpus < spec.get("entrypointNumCpus", 0):
        problems.append("the head has fewer CPUs than the driver reserves")
    for g in rcs.get("workerGroupSpecs", []):
        fixed = g["minReplicas"] == g["maxReplicas"] == g.get("replicas", g["minReplicas"])
        if not fixed and not rcs.get("enableInTreeAutoscaling"):
            problems.append(f"worker group {g['groupName']}: min/max replicas differ but the autoscaler is off")
    return problems


def test_manifest_matches_the_rayjob_crd_schema():
    assert schema_errors(MANIFEST) == []


def test_manifest_runs_the_same_job_as_ray_job_yaml():
    assert consistency_problems(MANIFEST) == []


def test_the_checks_can_fail():
    """The schema is closed and typed, and the consistency check sees the issue's old bugs."""
    m = copy.deepcopy(MANIFEST)
    m["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["maxReplicass"] = 3
    m["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 1
    m["spec"]["entrypointNumCpus"] = "one"
    errors = schema_errors(m)
    assert any("maxReplicass" in e for e in errors)
    assert any(e.startswith("spec.rayClusterSpec.headGroupSpec.rayStartParams.num-cpus") for e in errors)
    assert any(e.startswith("spec.entrypointNumCpus") for e in errors)

    old = copy.deepcopy(MANIFEST)
    g = old["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    g.update(replicas=4, minReplicas=0, maxReplicas=16)
    old["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] = False
    del old["spec"]["entrypointNumCpus"]
    problems = consistency_problems(old)
    assert any("autoscaler is off" in p for p in problems) and any("entrypointNumCpus" in p for p in problems)
    old["spec"]["rayClusterSpec"]["enableInTreeAutoscaling"] = True
    assert not any("autoscaler" in p for p in consistency_problems(old))
