"""Print the newest saved benchmark run as a table of ratios to the reference, per case.

``python regression/benchmarks/table.py [STORAGE]`` (default
``regression/benchmarks/results``) reads the newest pytest-benchmark JSON
under STORAGE and prints, for every case, the reference's median and each
other kernel's median as a ratio to it (below 1: faster than the
reference). Ratios come from one run, so the machine's speed cancels.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def _newest(storage: Path) -> Path:
    runs = sorted(storage.glob("*/*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit(f"no saved benchmark run under {storage}")
    return runs[-1]


def _time(seconds: float) -> str:
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def table(path: Path) -> str:
    data = json.loads(path.read_text())
    groups: dict[str, dict[str, float]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        groups[bench["group"]][bench["extra_info"]["kernel"]] = bench["stats"]["median"]
    info = data["machine_info"]
    yardsticks = [
        b["extra_info"]["yardstick_seconds"]
        for b in data["benchmarks"]
        if "yardstick_seconds" in b["extra_info"]
    ]
    yardstick = statistics.median(yardsticks) if yardsticks else float("nan")
    lines = [
        f"Run {path.name}: medians in yardstick units (the yardstick took a median "
        f"{yardstick * 1e3:.2f} ms here, "
        f"{info.get('drlspec_yardstick_nominal_seconds', float('nan')) * 1e3:.2f} ms nominal).",
        "",
        "| case | reference (median) | kernel | median | kernel / reference |",
        "| --- | --- | --- | --- | --- |",
    ]
    for group, kernels in groups.items():
        reference = kernels.get("reference")
        for kernel, median in sorted(kernels.items(), key=lambda kv: kv[1]):
            if kernel == "reference":
                continue
            ratio = f"{median / reference:.3g}" if reference else "-"
            lines.append(
                f"| {group} | {_time(reference) if reference else '-'} | {kernel} | "
                f"{_time(median)} | {ratio} |"
            )
        if len(kernels) == 1 and reference is not None:
            lines.append(f"| {group} | {_time(reference)} | (no other kernel) | | |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    storage = Path(argv[0]) if argv else Path(__file__).parent / "results"
    print(table(_newest(storage)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
