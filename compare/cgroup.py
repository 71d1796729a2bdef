"""A Linux cgroup CPU quota for one child process: a fraction (or a few) of a CPU, as Lambda sizes get.

`detect()` finds a cpu controller this process can write: cgroup v2 (`cpu.max`) where the unified
hierarchy offers it, else v1 (`cpu.cfs_quota_us`), and proves it by creating and removing a probe
cgroup; it raises `CgroupUnavailable`, with the reasons, where none can be written. `cpu_quota()`
creates a child cgroup with the quota, yields it and removes it afterwards, on errors too.

A process enters the cgroup through `Quota.command(argv)`: a tiny `/bin/sh` writes its own pid to
`cgroup.procs`, then execs argv, so the measured program runs under the quota from its first
instruction (a pid written after `Popen` would let its start run unthrottled), and never runs at
all if the write fails.
"""

from __future__ import annotations

import errno
import itertools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PERIOD_US = 100_000
MIN_QUOTA_US = 1_000  # the kernel refuses quotas below 1 ms
V1_SHARES, V2_WEIGHT = 262_144, 10_000  # the highest CPU weights (default 1024 and 100)
SHELL = "/bin/sh"
PREFIX = "twinserve-sweep"
_names = itertools.count()


class CgroupUnavailable(RuntimeError):
    """No cgroup cpu controller can be written here; the message says why."""


@dataclass(frozen=True)
class Controller:
    version: Literal[1, 2]
    parent: Path  # the cgroup whose children carry the quotas

    @property
    def label(self) -> str:
        return f"cgroup-v{self.version}"

    def quota_file(self, cgroup: Path) -> Path:
        return cgroup / ("cpu.max" if self.version == 2 else "cpu.cfs_quota_us")

    def set_quota(self, cgroup: Path, quota_us: int, period_us: int) -> None:
        """The quota caps the cgroup's CPU; the top weight makes that share its own against other work here,
        as a Lambda function's share is (the weight matters only while the machine is busy)."""
        if self.version == 2:
            (cgroup / "cpu.max").write_text(f"{quota_us} {period_us}\n")
            (cgroup / "cpu.weight").write_text(f"{V2_WEIGHT}\n")
        else:
            (cgroup / "cpu.cfs_period_us").write_text(f"{period_us}\n")
            (cgroup / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
            (cgroup / "cpu.shares").write_text(f"{V1_SHARES}\n")


@dataclass(frozen=True)
class Quota:
    path: Path
    cpus: float
    quota_us: int
    period_us: int

    def command(self, argv: list[str]) -> list[str]:
        """argv, started inside this cgroup: the shell moves itself in, then becomes argv."""
        return [SHELL, "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *argv]

    def stat(self) -> dict[str, int]:
        """cpu.stat: nr_periods, nr_throttled and throttled_time (ns, v1) or throttled_usec (v2)."""
        pairs = (line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2 and pair[1].isdigit()}

    def throttled_s(self) -> float:
        stat = self.stat()
        return stat.get("throttled_usec", 0) / 1e6 + stat.get("throttled_time", 0) / 1e9


def quota_us(cpus: float, period_us: int = PERIOD_US) -> int:
    """The quota per period for `cpus` CPUs; more than one period's worth above one CPU."""
    if not cpus > 0:
        raise ValueError(f"a CPU quota must be positive, not {cpus}")
    return max(MIN_QUOTA_US, round(cpus * period_us))


def _unescape(field: str) -> str:
    """/proc/self/mounts writes a space in a mount point as \\040."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def candidates(mounts: str, own_cgroups: str) -> list[Controller]:
    """Controllers to try, v2 first, from /proc/self/mounts and /proc/self/cgroup texts.

    Each is placed at this process's own cgroup where that directory is visible, so quotas nest
    under whatever limits this process already has; else at the hierarchy's mount point.
    """
    own_v1, own_v2 = "/", "/"
    for line in own_cgroups.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            own_v2 = path
        elif "cpu" in controllers.split(","):
            own_v1 = path
    found: list[Controller] = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount, kind, options = Path(_unescape(fields[1])), fields[2], fields[3].split(",")
        if kind == "cgroup2":
            parent = _own(mount, own_v2)
            with suppress(OSError):
                if "cpu" in (parent / "cgroup.controllers").read_text().split():
                    found.insert(0, Controller(2, parent))
        elif kind == "cgroup" and "cpu" in options:
            found.append(Controller(1, _own(mount, own_v1)))
    return found


def _own(mount: Path, path: str) -> Path:
    own = mount / path.lstrip("/")
    return own if own.is_dir() else mount


def _probe(controller: Controller) -> None:
    """Create, write and remove one cgroup; raise OSError where any step is refused."""
    if controller.version == 2:
        subtree = controller.parent / "cgroup.subtree_control"
        if "cpu" not in subtree.read_text().split():
            subtree.write_text("+cpu\n")  # refused (EBUSY) in a non-root cgroup that holds processes
    probe = controller.parent / f"{PREFIX}-probe-{os.getpid()}"
    probe.mkdir()
    try:
        if not controller.quota_file(probe).exists():
            raise OSError(errno.ENOENT, "the new cgroup has no CPU quota file", str(probe))
        controller.set_quota(probe, PERIOD_US, PERIOD_US)
    finally:
        probe.rmdir()


def detect(mounts: str | None = None, own_cgroups: str | None = None) -> Controller:
    """The first cpu controller that works here; CgroupUnavailable with every reason if none."""
    mounts = Path("/proc/self/mounts").read_text() if mounts is None else mounts
    if own_cgroups is None:
        try:
            own_cgroups = Path("/proc/self/cgroup").read_text()
        except OSError:
            own_cgroups = ""
    found = candidates(mounts, own_cgroups)
    if not found:
        raise CgroupUnavailable("no cgroup cpu controller is mounted (cgroup v1 cpu, or v2 offering cpu)")
    reasons = []
    for controller in found:
        try:
            _probe(controller)
        except OSError as exc:
            reasons.append(f"{controller.label} at {controller.parent}: {exc.strerror or exc}")
            continue
        return controller
    raise CgroupUnavailable("no cgroup CPU quota can be written: " + "; ".join(reasons))


@contextmanager
def cpu_quota(cpus: float, controller: Controller, *, period_us: int = PERIOD_US) -> Iterator[Quota]:
    """A fresh child cgroup limited to `cpus` CPUs; removed on exit (its processes must have ended)."""
    quota = Quota(
        controller.parent / f"{PREFIX}-{os.getpid()}-{next(_names)}", cpus, quota_us(cpus, period_us), period_us
    )
    quota.path.mkdir()
    try:
        controller.set_quota(quota.path, quota.quota_us, period_us)
        yield quota
    finally:
        _remove(quota.path)


def _remove(path: Path, timeout_s: float = 10.0) -> None:
    """rmdir, retried while the kernel still counts a just-reaped process as a member (EBUSY)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            path.rmdir()
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        else:
            return
