"""docker/gunicorn.conf.py sizes the worker pool from the CPUs a container may use: a cgroup CPU
quota (`--cpus`, compose `cpus:`) caps it on cgroup v2 and on cgroup v1 (or hybrid) hosts. The
cgroup files are written to a temporary folder laid out like /sys/fs/cgroup."""

import importlib.util
import os
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT


def _load_config():
    spec = importlib.util.spec_from_file_location(
        "lyo_gunicorn_conf", ROOT / "docker" / "gunicorn.conf.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONFIG = _load_config()


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    return root


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        # cgroup v2
        ({"cpu.max": "100000 100000"}, 1.0),
        ({"cpu.max": "50000 100000"}, 0.5),
        ({"cpu.max": "max 100000"}, None),
        # cgroup v1: Docker and runc mount the container's cpu controller as cpu,cpuacct with
        # `cpu` beside it; `docker run --cpus 1` writes quota 100000 for period 100000.
        ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, 1.0),
        ({"cpu/cpu.cfs_quota_us": "150000", "cpu/cpu.cfs_period_us": "100000"}, 1.5),
        (
            {"cpu,cpuacct/cpu.cfs_quota_us": "200000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            2.0,
        ),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        # hybrid: v1 controllers plus an (empty) unified hierarchy; the smaller limit wins when
        # both report one
        (
            {
                "unified/cgroup.procs": "",
                "cpu/cpu.cfs_quota_us": "100000",
                "cpu/cpu.cfs_period_us": "100000",
            },
            1.0,
        ),
        (
            {
                "cpu.max": "300000 100000",
                "cpu/cpu.cfs_quota_us": "100000",
                "cpu/cpu.cfs_period_us": "100000",
            },
            1.0,
        ),
        # nothing readable, or garbage
        ({}, None),
        ({"cpu.max": "garbage"}, None),
        ({"cpu/cpu.cfs_quota_us": "", "cpu/cpu.cfs_period_us": "100000"}, None),
    ],
)
def test_cgroup_cpu_quota(tmp_path, files, quota):
    assert CONFIG._cgroup_cpu_quota(_write(tmp_path, files)) == quota


def test_a_one_cpu_quota_on_cgroup_v1_gives_one_cpu_and_three_workers(tmp_path):
    root = _write(tmp_path, {"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"})
    assert CONFIG._available_cpus(root) == 1
    # the default pool size the config derives from it: 2 x CPUs + 1
    assert 2 * CONFIG._available_cpus(root) + 1 == 3


def test_fractional_quota_rounds_up_and_no_quota_means_the_affinity_mask(tmp_path):
    half = _write(tmp_path / "half", {"cpu.max": "50000 100000"})
    assert CONFIG._available_cpus(half) == 1
    unlimited = _write(
        tmp_path / "none", {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}
    )
    assert CONFIG._available_cpus(unlimited) == len(os.sched_getaffinity(0))
