"""Lambda REPORT lines, as CloudWatch Logs exports them, into the calibration record's Lambda part.

Reads the text format (`REPORT RequestId: ... Duration: 4.21 ms Billed Duration: 5 ms Memory Size:
1024 MB Max Memory Used: 160 MB Init Duration: 1183.52 ms`, with `Restore Duration` under SnapStart),
the same line inside a JSON export event (`{"message": "REPORT ..."}`), and Lambda's JSON log format
(`{"type": "platform.report", "record": {"metrics": {"durationMs": ...}}}`). Other log lines are
ignored; REPORT lines that cannot be read are counted, never fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .calibration import EntryPointTimes

# Longer names first: "Billed Restore Duration" must not be read as "Restore Duration".
_FIELD = re.compile(
    r"(Billed Restore Duration|Billed Duration|Restore Duration|Init Duration|Max Memory Used|Memory Size|Duration)"
    r":\s*([\d.]+)"
)
_JSON_KEYS = {
    "durationMs": "Duration",
    "billedDurationMs": "Billed Duration",
    "memorySizeMB": "Memory Size",
    "maxMemoryUsedMB": "Max Memory Used",
    "initDurationMs": "Init Duration",
    "restoreDurationMs": "Restore Duration",
}


@dataclass
class Reports:
    warm_ms: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)  # init (or restore) plus the first invocation
    memory_mb: set[int] = field(default_factory=set)
    unreadable: int = 0
    lines: int = 0


def _fields_of(line: str) -> dict[str, float] | None:
    """The REPORT fields of one log line; {} when it is not a REPORT line; None when unreadable."""
    text = line.strip()
    if text.startswith("{"):
        try:
            event: Any = json.loads(text)
        except json.JSONDecodeError:
            return None if "REPORT" in text or "platform.report" in text else {}
        if isinstance(event, dict) and event.get("type") == "platform.report":
            metrics = (event.get("record") or {}).get("metrics") or {}
            found = {name: float(metrics[key]) for key, name in _JSON_KEYS.items() if key in metrics}
            return found if "Duration" in found else None
        text = str(event.get("message", "")) if isinstance(event, dict) else ""
    if "REPORT RequestId" not in text:
        return {}
    found = {name: float(value) for name, value in _FIELD.findall(text)}
    return found if "Duration" in found and "Memory Size" in found else None


def read_reports(paths: list[Path]) -> Reports:
    reports = Reports()
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            reports.lines += 1
            fields = _fields_of(line)
            if fields is None:
                reports.unreadable += 1
            elif fields:
                start = fields.get("Init Duration", fields.get("Restore Duration"))
                if start is None:
                    reports.warm_ms.append(fields["Duration"])
                else:
                    reports.cold_ms.append(start + fields["Duration"])
                if "Memory Size" in fields:
                    reports.memory_mb.add(int(fields["Memory Size"]))
    return reports


def lambda_times(reports: Reports) -> EntryPointTimes:
    if not reports.warm_ms or not reports.cold_ms:
        raise ValueError(
            f"the logs hold {len(reports.warm_ms)} warm and {len(reports.cold_ms)} cold REPORT lines "
            f"({reports.unreadable} unreadable of {reports.lines} lines); a calibration needs both"
        )
    if len(reports.memory_mb) > 1:
        raise ValueError(f"the logs mix memory sizes {sorted(reports.memory_mb)}: give one function's logs at a time")
    return EntryPointTimes(
        cold_start_s=[ms / 1000 for ms in reports.cold_ms],
        warm_s={"1": [ms / 1000 for ms in reports.warm_ms]},
        memory_mb=next(iter(reports.memory_mb), None),
    )
