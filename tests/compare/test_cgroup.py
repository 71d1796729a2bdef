"""The cgroup CPU quota: finding a writable controller, and a child process that runs under it from its start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from compare.cgroup import (
    MIN_QUOTA_US,
    CgroupUnavailable,
    Controller,
    Quota,
    candidates,
    cpu_quota,
    detect,
    quota_us,
)

HYBRID_MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0
cgroup /sys/fs/cgroup/cpuset cgroup rw,relatime,cpuset 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""


def writable_controller() -> Controller:
    try:
        return detect()
    except CgroupUnavailable as exc:
        pytest.skip(f"no writable cgroup CPU quota here: {exc}")


def test_quota_per_period() -> None:
    assert quota_us(0.5) == 50_000
    assert quota_us(1.7) == 170_000  # above one CPU: more than one period's worth
    assert quota_us(128 / 1769) == 7_236
    assert quota_us(0.0001) == MIN_QUOTA_US
    with pytest.raises(ValueError, match="positive"):
        quota_us(0)


def test_candidates_from_mounts(tmp_path: Path) -> None:
    # Hybrid (these machines): v1 cpu; the unified hierarchy offers no cpu controller.
    own = "1:cpu:/\n2:cpuacct:/\n0::/\n"
    assert candidates(HYBRID_MOUNTS, own) == [Controller(1, Path("/sys/fs/cgroup/cpu"))]
    # cpu and cpuacct mounted together, the process in a nested cgroup that is not visible here.
    combined = "cgroup /nowhere/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
    assert candidates(combined, "4:cpu,cpuacct:/docker/abc\n") == [Controller(1, Path("/nowhere/cpu,cpuacct"))]
    # Pure v2 offering cpu, with the process's own cgroup visible: quotas nest under it; v2 comes first.
    (tmp_path / "user.slice").mkdir()
    (tmp_path / "user.slice" / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    v2 = f"cgroup2 {tmp_path} cgroup2 rw 0 0\n" + "cgroup /c cgroup rw,cpu 0 0\n"
    assert candidates(v2, "0::/user.slice\n") == [Controller(2, tmp_path / "user.slice"), Controller(1, Path("/c"))]
    assert candidates("proc /proc proc rw 0 0\n", "") == []


def test_nothing_mounted_says_so() -> None:
    with pytest.raises(CgroupUnavailable, match="no cgroup cpu controller is mounted"):
        detect(mounts="proc /proc proc rw 0 0\n", own_cgroups="")


def test_a_controller_that_cannot_be_written_says_why(tmp_path: Path) -> None:
    with pytest.raises(CgroupUnavailable, match=r"can be written: cgroup-v1 at .*missing: No such file"):
        detect(mounts=f"cgroup {tmp_path / 'missing'} cgroup rw,cpu 0 0\n", own_cgroups="")


def test_the_wrapper_never_runs_the_program_outside_its_cgroup(tmp_path: Path) -> None:
    quota = Quota(tmp_path / "no-such-cgroup", 0.5, 50_000, 100_000)
    ran = subprocess.run(
        quota.command([sys.executable, "-c", "print('ran')"]), capture_output=True, text=True, check=False
    )
    assert ran.returncode != 0
    assert "ran" not in ran.stdout


def test_child_runs_under_the_quota_from_its_start_and_the_cgroup_goes_away() -> None:
    controller = writable_controller()
    # The child's first statement reads its own cgroup membership.
    probe = [sys.executable, "-c", "print(open('/proc/self/cgroup').read())"]
    with cpu_quota(0.5, controller) as quota:
        membership = subprocess.run(quota.command(probe), capture_output=True, text=True, check=True).stdout
        assert f"/{quota.path.name}\n" in membership
        written = controller.quota_file(quota.path).read_text().split()
        assert written[0] == "50000"
        path = quota.path
    assert not path.exists()


def test_the_cgroup_is_removed_on_errors_too() -> None:
    controller = writable_controller()
    seen: list[Path] = []

    def fail_inside() -> None:
        with cpu_quota(0.3, controller) as quota:
            seen.append(quota.path)
            assert quota.path.is_dir()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert seen
    assert not seen[0].exists()


def test_a_cpu_bound_child_is_throttled() -> None:
    controller = writable_controller()
    loop = [sys.executable, "-c", "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"]
    with cpu_quota(0.25, controller) as quota:
        subprocess.run(quota.command(loop), check=True)
        stat = quota.stat()
        throttled = quota.throttled_s()
    assert stat["nr_throttled"] >= 1
    # 0.3 CPU-seconds at a quarter CPU: about 0.9 s held back.
    assert throttled > 0.5
