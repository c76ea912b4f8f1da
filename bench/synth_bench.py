"""Synthesis benchmark: prints figures, asserts nothing. Run it with `make bench`.

Commands, alternated round by round (one warm-up round, then --runs counted rounds):
  A  the project's synthesis, cold: `python main.py` as a new process into a fresh folder
  B  the same with the provider bindings' ordinary import (STORE2018_PROVIDER_IMPORT=eager)
  C  the peer floor: bench/js-floor/main.js, plain JavaScript, run with `node`
  D  (for insight) A with only the Python half of the mechanism (STORE2018_PROVIDER_IMPORT=python-only)
Wall time is the whole process, interpreter exit included. Peak memory is the peak of the summed
resident memory of the process and its descendants (for Python, the jsii Node child), sampled.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules" / ".bin" / "node"
FLOOR = ROOT / "bench" / "js-floor" / "main.js"
PYTHON = ROOT / ".venv" / "bin" / "python"
SAMPLE_SECONDS = 0.01
RESCAN_SECONDS = 0.05


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(root: int) -> set[int]:
    tree, found, todo = _children(), {root}, [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


@dataclass
class Run:
    seconds: float
    peak_rss: int


def measure(argv: list[str], env: dict[str, str]) -> Run:
    """Wall time of the process until it exits, and its tree's peak summed RSS."""
    peak = 0
    done = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample() -> None:
        nonlocal peak
        pids: set[int] = {proc.pid}
        last_scan = 0.0
        while not done.is_set():
            now = time.perf_counter()
            if now - last_scan >= RESCAN_SECONDS:
                pids |= _descendants(proc.pid)
                last_scan = now
            peak = max(peak, sum(_rss_bytes(p) for p in pids))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr.decode()}")
    return Run(seconds, peak)


@dataclass
class Command:
    key: str
    title: str
    argv: list[str]
    env: dict[str, str]
    runs: list[Run] = field(default_factory=list)

    def run_once(self, scratch: Path) -> Run:
        outdir = Path(tempfile.mkdtemp(dir=scratch))
        env = dict(self.env, CDKTF_OUTDIR=str(outdir / "terraform"))
        argv = [a.replace("{outdir}", str(outdir / "terraform")) for a in self.argv]
        return measure(argv, env)


def base_env() -> dict[str, str]:
    # The project's defaults: nothing inherited that would choose for it.
    drop = ("CDKTF_", "STORE2018_", "NODE_OPTIONS", "JSII_NODE")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def jsii_cache_state() -> str:
    setting = os.environ.get("JSII_RUNTIME_PACKAGE_CACHE", "enabled (default)")
    root = Path(os.environ.get("JSII_RUNTIME_PACKAGE_CACHE_ROOT", Path.home() / ".cache" / "aws" / "jsii"))
    entry = root / "package-cache" / "@cdktf" / "provider-aws"
    state = "populated" if entry.is_dir() and any(entry.iterdir()) else "empty"
    return f"JSII_RUNTIME_PACKAGE_CACHE={setting}; cache at {root} was {state} before the warm-up round"


def machine() -> str:
    with open("/proc/cpuinfo") as f:
        models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    model = models[0] if models else "unknown CPU"
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 2**20
    node = subprocess.run([str(NODE), "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, Node {node}")  # fmt: skip


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="counted rounds after the warm-up (default 7)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the unit test suite")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for needed in (NODE, FLOOR.parent / "node_modules", PYTHON):
        if not needed.exists():
            raise SystemExit(f"{needed} is missing: run `make bench`, which installs it")

    env = base_env()
    main_py = [str(PYTHON), "main.py"]
    commands = [
        Command("A", "python main.py (the mechanism on: default)", main_py, env),
        Command("B", "python main.py, ordinary import (eager)", main_py, dict(env, STORE2018_PROVIDER_IMPORT="eager")),
        Command("C", "node bench/js-floor/main.js (peer floor)", [str(NODE), str(FLOOR), "{outdir}"], env),
        Command("D", "python main.py, Python half only", main_py, dict(env, STORE2018_PROVIDER_IMPORT="python-only")),
    ]
    print(f"Machine: {machine()}")
    print(f"jsii package cache: {jsii_cache_state()}")
    print(f"Rounds: 1 warm-up + {args.runs} counted; order A, B, C, D rotated each round")
    scratch = Path(tempfile.mkdtemp(prefix="store2018-bench-"))
    try:
        for round_no in range(args.runs + 1):
            shift = round_no % len(commands)
            for command in commands[shift:] + commands[:shift]:
                run = command.run_once(scratch)
                if round_no > 0:
                    command.runs.append(run)
            label = "warm-up" if round_no == 0 else f"round {round_no}/{args.runs}"
            print(f"  {label} done", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(f"{'':3}{'command':46}{'median':>9}{'min':>9}{'max':>9}{'peak RSS median':>17}{'max':>10}")
    medians: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for c in commands:
        times = [r.seconds for r in c.runs]
        rss = [r.peak_rss for r in c.runs]
        medians[c.key] = statistics.median(times)
        peaks[c.key] = statistics.median(rss)
        print(f"{c.key:3}{c.title:46}{medians[c.key]:8.2f}s{min(times):8.2f}s{max(times):8.2f}s"
              f"{mib(peaks[c.key]):>17}{mib(max(rss)):>10}")  # fmt: skip
    print()
    print(f"A/C = {medians['A'] / medians['C']:.2f}  (target: at most 1.3)")
    print(f"B/A = {medians['B'] / medians['A']:.2f}  (target: at least 3)")
    print(f"peak RSS A/B = {peaks['A'] / peaks['B']:.2f}  (target: at most 1.0)")

    if not args.skip_tests:
        start = time.perf_counter()
        subprocess.run([str(PYTHON), "-m", "pytest", "-q", "-m", "not terraform", "-p", "no:cacheprovider"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        print(f"unit test suite (pytest -m 'not terraform'): {time.perf_counter() - start:.1f}s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
