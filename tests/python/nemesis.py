"""Nemesis harness: a Weir cluster run as separate processes (a control plane and three
`weir data-plane` nodes), faulted one process at a time under a continuous write and read
load, then checked for lost, duplicated, reordered or rewritten acknowledged records.

Faults (one at a time, the cluster healthy again in between):
- kill_restart:       kill -9 a node, keep it down, restart it on its disk;
- kill_wipe:          kill -9 a node, rm -rf its data dir, restart it on the empty disk;
- pause:              SIGSTOP a node for longer than the lease, then SIGCONT;
- kill_control_plane: kill -9 the control plane, restart it on the same database.

Importable (`run_nemesis`, used by test_nemesis.py) and runnable:

    .venv-tests/bin/python tests/python/nemesis.py --seed 7 --faults 8

prints the timeline, the verdict, and one `RESULT key=value ...` line (scripts/nemesis.sh
collects those). Exit status 0 when every check passed, 1 when one failed, 2 when the
cluster itself could not be run.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nemesis_workload import (Observer, ProducerState, ReaderStats, Verdict,  # noqa: E402
                              Window, final_read, produce, read_continuously, verdict)
from weirtest import (CLUSTER_SECRET, _processes, list_all_shards, make_client,  # noqa: E402
                      wait_active, weir_binary)

FAULT_KINDS = ("kill_restart", "kill_wipe", "pause", "kill_control_plane")
# Replication flags, added to whichever subcommand's --help lists them (see
# replication_args); until then the harness runs without them.
REPLICATION_FLAGS = (("--replication-factor", "3"), ("--replace-after-ms", "4000"))


class NemesisError(RuntimeError):
    """The harness could not run the cluster (as opposed to a check failing)."""


def free_ports(n: int) -> list[int]:
    """`n` distinct free loopback ports below the ephemeral range, so that no outgoing
    connection takes a port while its node is down and a restart finds it free."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    pick = random.Random()  # not the run's seed: parallel runs must not collide
    ports: list[int] = []
    while len(ports) < n:
        port = pick.randrange(20000, max(20001, low - 1))
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
    return ports


class Proc:
    """One weir process, started in its own session (so its group can be signalled as a
    whole) with stdout and stderr in per-start log files; restartable with the same
    argv. `ready(proc)` says when a start is complete."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, ready):
        self.name, self.argv, self.log_dir, self._ready = name, argv, log_dir, ready
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self.paused = False
        self.stdout_log = self.stderr_log = None

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        self.stdout_log = self.log_dir / f"{self.name}.{self.starts}.stdout.log"
        self.stderr_log = self.log_dir / f"{self.name}.{self.starts}.stderr.log"
        with open(self.stdout_log, "wb") as out, open(self.stderr_log, "wb") as err:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=err, cwd=self.log_dir,
                                          env={**os.environ, "NO_COLOR": "1"},
                                          start_new_session=True)
        self.paused = False
        deadline = time.monotonic() + timeout
        while not self._ready(self):
            if self.popen.poll() is not None:
                raise NemesisError(f"{self.name} exited with status {self.popen.returncode} "
                                   f"before it was ready:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise NemesisError(f"{self.name} not ready within {timeout:.0f} s:\n"
                                   f"{self.tail()}")
            time.sleep(0.05)

    def stdout(self) -> str:
        return self.stdout_log.read_text(errors="replace") if self.stdout_log else ""

    def tail(self, lines: int = 15) -> str:
        err = self.stderr_log.read_text(errors="replace") if self.stderr_log else ""
        return (f"  $ {' '.join(self.argv)}\n  stdout: " + self.stdout()[-1500:] +
                f"\n  stderr ({self.stderr_log}):\n  " +
                "\n  ".join(err.splitlines()[-lines:]))

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """kill -9 the process group and reap it."""
        if self.popen is None:
            return
        self.signal(signal.SIGKILL)
        self.paused = False
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise NemesisError(f"{self.name} (pid {self.popen.pid}) survived SIGKILL")

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False


def _stdout_says_ready(proc: Proc) -> bool:
    return bool(re.search(r"^Ready\.\s*$", proc.stdout(), re.M))


class NemesisCluster:
    """A control plane and `nodes` data-plane nodes on fixed loopback ports (a restarted
    node keeps its URL), each process faultable on its own. Layout under `root`:
    meta.db, cp/ (control plane data dir), node-i/ (node data dirs), logs/."""

    def __init__(self, root: Path, *, nodes: int = 3, lease_ms: int = 2000,
                 cp_args: tuple = (), node_args: tuple = (), binary: Path | None = None):
        self.root = Path(root)
        self.binary = Path(binary or weir_binary())
        if not self.binary.exists():
            raise NemesisError(f"weir binary not found at {self.binary} (WEIR_BIN overrides)")
        self.lease_ms = lease_ms
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        ports = free_ports(nodes + 1)
        self.rest_url = f"http://127.0.0.1:{ports[0]}"
        common = ["--cluster-secret", CLUSTER_SECRET, "--insecure-plaintext", "--tier", "off"]
        self.cp = Proc("control-plane", [
            str(self.binary), "control-plane",
            "--database-url", f"sqlite://{self.root / 'meta.db'}?mode=rwc",
            "--rest-addr", f"127.0.0.1:{ports[0]}", "--data-dir", str(self.root / "cp"),
            "--no-auth", "--lease-timeout-ms", str(lease_ms), *common, *cp_args],
            logs, self._cp_ready)
        self.nodes: dict[str, Proc] = {}
        self.node_urls: dict[str, str] = {}
        for i in range(nodes):
            nid = f"node-{i}"
            self.node_urls[nid] = f"http://127.0.0.1:{ports[i + 1]}"
            self.nodes[nid] = Proc(nid, [
                str(self.binary), "data-plane", "--control-plane-url", self.rest_url,
                "--node-id", nid, "--kinesis-addr", f"127.0.0.1:{ports[i + 1]}",
                "--data-dir", str(self.node_dir(nid)), *common, *node_args],
                logs, _stdout_says_ready)

    def _cp_ready(self, _proc: Proc) -> bool:
        """The control plane prints nothing on stdout in cluster mode: it is ready once
        its REST API answers."""
        try:
            return requests.get(f"{self.rest_url}/v1/streams", timeout=1).status_code < 500
        except requests.RequestException:
            return False

    @property
    def node_ids(self) -> list[str]:
        return sorted(self.nodes)

    def node_dir(self, nid: str) -> Path:
        return self.root / nid

    def processes(self) -> dict[str, Proc]:
        return {"control-plane": self.cp, **self.nodes}

    def start(self) -> None:
        self.cp.start()
        for nid in self.node_ids:
            self.nodes[nid].start()

    def live_nodes(self) -> list[str]:
        return [n for n, p in self.nodes.items() if p.alive and not p.paused]

    def healthy(self) -> bool:
        return all(p.alive and not p.paused for p in self.processes().values())

    def client(self, nid: str, read_timeout: float = 5.0):
        return make_client(self.node_urls[nid], max_attempts=1, read_timeout=read_timeout)

    def close(self) -> list[str]:
        """kill -9 every process; returns any process still naming `root` afterwards."""
        for p in self.processes().values():
            p.signal(signal.SIGCONT)
            try:
                p.kill()
            except NemesisError:
                pass
        deadline = time.monotonic() + 10
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def leftovers(self) -> list[str]:
        """Live weir processes whose command line names this cluster's folder."""
        needle = str(self.root)
        return [f"{pid} {' '.join(argv)}" for pid, _, state, argv in _processes()
                if state != "Z" and argv and Path(argv[0]).name == self.binary.name
                and any(needle in a for a in argv[1:])]


@dataclass
class FaultEvent:
    kind: str
    target: str
    start: float  # seconds since the run started
    end: float    # back (restarted and ready, or resumed)


@dataclass
class NemesisResult:
    seed: int
    faults: list = field(default_factory=list)  # FaultEvent
    duration_s: float = 0.0
    requests: int = 0
    reader_passes: int = 0
    reader_errors: int = 0
    failure_reasons: dict = field(default_factory=dict)
    verdict: Verdict = field(default_factory=Verdict)
    log_dir: str = ""
    extra_args: str = ""

    @property
    def rounds(self) -> int:
        return len(self.faults)

    @property
    def ok(self) -> bool:
        return not self.verdict.problems

    def summary(self) -> str:
        """One `RESULT key=value ...` line."""
        v = self.verdict
        kinds = ",".join(f"{f.kind}:{f.target}" for f in self.faults)
        return (f"RESULT seed={self.seed} ok={'yes' if self.ok else 'no'} "
                f"faults={self.rounds} acked={v.acked} failed={v.failed} missing={v.missing} "
                f"misplaced={v.misplaced} duplicates={v.duplicates} conflicts={v.conflicts} "
                f"reorders={v.reorders} seq_violations={v.seq_violations} "
                f"divergent={v.divergent} unavailable={v.unavailable} "
                f"unacked_present={v.unacked_present} duration={self.duration_s:.1f}s "
                f"kinds={kinds}")

    def report(self) -> str:
        v = self.verdict
        timeline = "\n".join(f"    {f.start:6.1f}s-{f.end:6.1f}s  {f.kind} {f.target}"
                             for f in self.faults)
        reasons = ", ".join(f"{k}: {n}" for k, n in sorted(self.failure_reasons.items(),
                                                            key=lambda kv: -kv[1]))
        head = (f"nemesis seed {self.seed}{' ' + self.extra_args if self.extra_args else ''}"
                f": {'PASSED' if self.ok else 'FAILED'} after {self.rounds} faults in "
                f"{self.duration_s:.0f} s\n"
                f"  {v.acked} records acknowledged, {v.failed} not ({self.requests} "
                f"requests; {v.unacked_present} unacknowledged records landed anyway)\n"
                f"  not acknowledged: {reasons or 'none'}\n"
                f"  reader: {self.reader_passes} shard reads, {self.reader_errors} failed\n"
                f"  faults:\n{timeline}\n  logs: {self.log_dir}")
        if self.ok:
            return head
        return (head + f"\n  {len(v.problems)} checks failed:\n  - " +
                "\n  - ".join(v.problems))


def plan_faults(rng: random.Random, count: int) -> list[str]:
    """`count` fault kinds: shuffled rounds of every kind, so each appears evenly."""
    kinds: list[str] = []
    while len(kinds) < count:
        batch = list(FAULT_KINDS)
        rng.shuffle(batch)
        kinds += batch
    return kinds[:count]


def replication_args(binary: Path | None = None) -> tuple[tuple, tuple]:
    """(control-plane args, data-plane args): each of REPLICATION_FLAGS that the
    subcommand's --help lists."""
    binary = Path(binary or weir_binary())
    out = []
    for sub in ("control-plane", "data-plane"):
        try:
            text = subprocess.run([str(binary), sub, "--help"], capture_output=True,
                                  text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        out.append(tuple(a for flag, value in REPLICATION_FLAGS
                         if re.search(rf"{re.escape(flag)}\b", text) for a in (flag, value)))
    return out[0], out[1]


def run_nemesis(root: Path, *, seed: int, faults: list[str] | None = None,
                fault_count: int = 4, producers: int = 4, shards: int = 4,
                lease_ms: int = 2000, down_s: float = 8.0, pause_s: float = 8.0,
                cp_down_s: float = 3.0, settle_s: float = 4.0, warmup_s: float = 3.0,
                final_settle_s: float = 30.0, cp_args: tuple = (), node_args: tuple = (),
                expect_available: bool = True, binary: Path | None = None,
                log=print) -> NemesisResult:
    """Starts a cluster under `root`, loads it, applies `faults` (default: `fault_count`
    kinds drawn with `seed`) one after the other, each followed by `settle_s` of healthy
    load, then stops the load and checks everything (nemesis_workload.verdict). The
    `seed` also picks the victim nodes and drives the producers and the reader. A killed
    node stays down `down_s`, a paused one `pause_s`; the control plane `cp_down_s`.
    Raises NemesisError when the cluster cannot be run; processes are always killed."""
    rng = random.Random(seed)
    kinds = list(faults) if faults is not None else plan_faults(rng, fault_count)
    unknown = sorted(set(kinds) - set(FAULT_KINDS))
    if unknown:
        raise ValueError(f"unknown fault kinds {unknown}; known: {FAULT_KINDS}")
    cluster = NemesisCluster(root, lease_ms=lease_ms, cp_args=cp_args, node_args=node_args,
                             binary=binary)
    origin = time.monotonic()
    now = lambda: time.monotonic() - origin  # noqa: E731
    say = lambda msg: log(f"[{now():6.1f}s] {msg}")  # noqa: E731
    result = NemesisResult(seed=seed, log_dir=str(root / "logs"),
                           extra_args=" ".join((*cp_args, *node_args)))
    stop_load, stop_reader = threading.Event(), threading.Event()
    threads: list[threading.Thread] = []
    try:
        cluster.start()
        say(f"cluster up: control plane {cluster.rest_url}, nodes {cluster.node_urls}, "
            f"extra args {result.extra_args or 'none'}")
        admin = cluster.client(cluster.node_ids[0], read_timeout=30)
        stream = f"nemesis-{seed}"
        admin.create_stream(StreamName=stream, ShardCount=shards)
        wait_active(admin, stream, timeout_s=30)
        shard_ids = [s["ShardId"] for s in list_all_shards(admin, stream)]
        states = [ProducerState(i) for i in range(producers)]
        observer, rstats = Observer(), ReaderStats()
        for i, st in enumerate(states):
            clients = {n: cluster.client(n) for n in cluster.node_ids}
            threads.append(threading.Thread(target=produce, daemon=True, args=(
                st, clients, stream, random.Random(seed * 1000 + i), stop_load, origin)))
        reader_clients = {n: cluster.client(n) for n in cluster.node_ids}
        reader = threading.Thread(target=read_continuously, daemon=True, args=(
            reader_clients, cluster.live_nodes, stream, shard_ids, observer,
            random.Random(seed * 1000 + 999), stop_reader, origin, rstats))
        for t in threads:
            t.start()
        reader.start()
        deadline = time.monotonic() + warmup_s + 15
        while time.monotonic() < deadline and sum(len(s.acks) for s in states) < 50:
            time.sleep(0.1)
        if sum(len(s.acks) for s in states) < 50:
            raise NemesisError(f"the load did not get going: "
                               f"{[dict(s.reasons) for s in states]}")
        time.sleep(warmup_s)
        say(f"stream {stream} ({len(shard_ids)} shards) loaded: "
            f"{sum(len(s.acks) for s in states)} acks")

        windows: list[Window] = []
        for round_no, kind in enumerate(kinds, 1):
            event = _apply_fault(cluster, kind, rng, now, say, down_s, pause_s, cp_down_s)
            result.faults.append(event)
            if kind != "kill_control_plane":
                windows.append(Window(kind, event.target, event.start, event.end))
            say(f"round {round_no}/{len(kinds)} done; {sum(len(s.acks) for s in states)} "
                f"acks, {sum(s.failed for s in states)} not acknowledged")
            time.sleep(settle_s)
        if not cluster.healthy():
            raise NemesisError("a process is down after the faults: " + ", ".join(
                f"{n} alive={p.alive} paused={p.paused}"
                for n, p in cluster.processes().items()))
        stop_load.set()
        for t in threads:
            t.join(timeout=30)
        stop_reader.set()
        reader.join(timeout=30)
        if any(t.is_alive() for t in (*threads, reader)):
            raise NemesisError("a producer or the reader hung")
        say("load stopped; final read through every node")
        final_clients = {n: cluster.client(n, read_timeout=15) for n in cluster.node_ids}
        reads, read_problems = final_read(final_clients, stream, shard_ids, observer,
                                          final_settle_s, origin)
        acks = [a for s in states for a in s.acks]
        attempted = set().union(*(s.attempted for s in states))
        failure_reasons: dict[str, int] = {}
        for s in states:
            for k, n in s.reasons.items():
                failure_reasons[k] = failure_reasons.get(k, 0) + n
        result.failure_reasons = failure_reasons
        result.requests = sum(s.requests for s in states)
        result.reader_passes, result.reader_errors = rstats.passes, rstats.errors
        result.verdict = verdict(acks, sum(s.failed for s in states), attempted, reads,
                                 read_problems, observer, windows, expect_available,
                                 grace_s=lease_ms / 1000 + 3.0)
        result.duration_s = now()
        say(f"checked: {'ok' if result.ok else 'FAILED'}")
        return result
    except NemesisError:
        raise
    except Exception as e:
        raise NemesisError(f"nemesis run failed at {now():.1f}s: {type(e).__name__}: {e}\n"
                           + "\n".join(f"[{n}]\n{p.tail(8)}"
                                       for n, p in cluster.processes().items())) from e
    finally:
        stop_load.set()
        stop_reader.set()
        left = cluster.close()
        if left:
            raise NemesisError(f"processes left behind: {left}")


def _apply_fault(cluster: NemesisCluster, kind: str, rng: random.Random, now, say,
                 down_s: float, pause_s: float, cp_down_s: float) -> FaultEvent:
    """One fault, from its start until the process is back (restarted and ready, or
    resumed)."""
    if kind == "kill_control_plane":
        start = now()
        cluster.cp.kill()
        say(f"kill -9 control plane; down {cp_down_s:.0f} s")
        time.sleep(cp_down_s)
        cluster.cp.start()
        say("control plane restarted (same database)")
        return FaultEvent(kind, "control-plane", start, now())
    node = rng.choice(cluster.node_ids)
    proc = cluster.nodes[node]
    if kind == "pause":
        start = now()
        proc.pause()
        say(f"SIGSTOP {node} for {pause_s:.0f} s (lease {cluster.lease_ms} ms)")
        time.sleep(pause_s)
        proc.resume()
        say(f"SIGCONT {node}")
        return FaultEvent(kind, node, start, now())
    start = now()
    proc.kill()
    say(f"kill -9 {node}; down {down_s:.0f} s")
    if kind == "kill_wipe":
        shutil.rmtree(cluster.node_dir(node), ignore_errors=True)
        say(f"wiped {cluster.node_dir(node)}")
    time.sleep(down_s)
    proc.start()
    say(f"{node} restarted on {'an empty' if kind == 'kill_wipe' else 'its'} disk")
    return FaultEvent(kind, node, start, now())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="default: random")
    ap.add_argument("--faults", type=int, default=8, help="number of faults (default 8)")
    ap.add_argument("--kinds", default=None,
                    help=f"comma-separated fault kinds in order instead of random ones "
                         f"({','.join(FAULT_KINDS)})")
    ap.add_argument("--settle", type=float, default=4.0,
                    help="seconds of healthy load after each fault (default 4)")
    ap.add_argument("--lease-ms", type=int, default=2000)
    ap.add_argument("--cp-args", default=None,
                    help="extra control-plane flags, one string (default: the replication "
                         "flags its --help lists)")
    ap.add_argument("--node-args", default=None, help="extra data-plane flags, one string")
    ap.add_argument("--no-expect-available", action="store_true",
                    help="skip check (e), writes acknowledged while a node is down")
    ap.add_argument("--dir", default=None, help="run folder (default: a fresh temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the run folder when it passes")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    auto_cp, auto_node = replication_args()
    cp_args = tuple(shlex.split(args.cp_args)) if args.cp_args is not None else auto_cp
    node_args = tuple(shlex.split(args.node_args)) if args.node_args is not None else auto_node
    root = Path(args.dir or tempfile.mkdtemp(prefix=f"weir-nemesis-{seed}-"))
    kinds = args.kinds.split(",") if args.kinds else None
    try:
        result = run_nemesis(root, seed=seed, faults=kinds, fault_count=args.faults,
                             settle_s=args.settle, lease_ms=args.lease_ms, cp_args=cp_args,
                             node_args=node_args, expect_available=not args.no_expect_available)
    except NemesisError as e:
        print(f"nemesis seed {seed}: could not run: {e}")
        print(f"RESULT seed={seed} ok=error logs={root / 'logs'}")
        return 2
    print(result.report())
    print(result.summary())
    if result.ok and not args.keep and args.dir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
