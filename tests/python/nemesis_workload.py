"""The nemesis run's workload and verdict: producers that record exactly what was
acknowledged, a reader that remembers every (shard, sequence number) it was ever served,
the final read, and the checks over all of it.

Used by nemesis.py (the cluster and the faults); nothing here starts or kills processes.

Vocabulary:
- ACKED: a PutRecords result entry carrying a SequenceNumber. The record must then be in
  the stream exactly once, at that sequence number, for ever.
- FAILED: a record whose request failed as a whole (refused connection, timeout, 5xx) or
  whose result entry carries an ErrorCode. Its outcome is unknown: it may or may not be
  in the stream, but at most once (clients never retry).
"""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from weirtest import is_throttle, seq_parts

# ---- producers ------------------------------------------------------------------------------


@dataclass
class Ack:
    payload: str
    shard: str
    seq: int
    producer: int
    counter: int
    t: float  # when the answer arrived, seconds since the run started


@dataclass
class ProducerState:
    """One producer's counters; `next_counter` numbers its records 0, 1, 2... in send
    order, so per shard its acknowledged records must be read back in counter order."""
    index: int
    next_counter: int = 0
    requests: int = 0
    acks: list = field(default_factory=list)
    failed: int = 0
    reasons: collections.Counter = field(default_factory=collections.Counter)
    attempted: set = field(default_factory=set)  # every payload ever sent


def _error_reason(e: Exception) -> str:
    if isinstance(e, ClientError):
        return e.response.get("Error", {}).get("Code") or "ClientError"
    return type(e).__name__


def produce(state: ProducerState, clients: dict, stream: str, rng: random.Random,
            stop: threading.Event, origin: float, pause_s: float = 0.05) -> None:
    """PutRecords batches of 1-20 records, each request to a node chosen at random (dead
    or paused ones included: those requests just fail), until `stop`. Payloads are
    `p<producer>-<counter>-<attempt>`, partition keys `p<producer>-<counter>` (MD5 spreads
    them over every shard)."""
    nodes = sorted(clients)
    while not stop.is_set():
        node = rng.choice(nodes)
        first = state.next_counter
        counters = list(range(first, first + rng.randint(1, 20)))
        state.next_counter += len(counters)
        attempt = f"{rng.getrandbits(32):08x}"
        payloads = [f"p{state.index}-{c}-{attempt}" for c in counters]
        state.attempted.update(payloads)
        entries = [{"Data": p.encode(), "PartitionKey": f"p{state.index}-{c}"}
                   for p, c in zip(payloads, counters)]
        state.requests += 1
        try:
            resp = clients[node].put_records(StreamName=stream, Records=entries)
        except Exception as e:  # noqa: BLE001 - outcome unknown: not acknowledged
            state.failed += len(entries)
            state.reasons[f"{_error_reason(e)} (whole call)"] += len(entries)
            stop.wait(pause_s)
            continue
        t = time.monotonic() - origin
        results = resp.get("Records", [])
        if len(results) != len(entries):
            state.failed += len(entries)
            state.reasons[f"{len(results)} results for {len(entries)} records"] += 1
            continue
        for p, c, r in zip(payloads, counters, results):
            if r.get("SequenceNumber") and not r.get("ErrorCode"):
                state.acks.append(Ack(p, r["ShardId"], int(r["SequenceNumber"]),
                                      state.index, c, t))
            else:
                state.failed += 1
                state.reasons[r.get("ErrorCode") or "no SequenceNumber"] += 1
        stop.wait(rng.uniform(0, 2 * pause_s))


# ---- reading --------------------------------------------------------------------------------


class Observer:
    """Every (shard, sequence number) -> payload ever read, by any reader, at any time; a
    second payload under the same key is a conflict (the shard's history forked)."""

    def __init__(self):
        self._seen: dict[tuple[str, int], tuple[str, str]] = {}
        self._lock = threading.Lock()
        self.conflicts: list[str] = []

    def observe(self, shard: str, seq: int, payload: str, source: str) -> None:
        with self._lock:
            first = self._seen.setdefault((shard, seq), (payload, source))
            if first[0] != payload and len(self.conflicts) < 10_000:
                self.conflicts.append(
                    f"{shard} seq {seq_parts(seq)}: {first[0]!r} ({first[1]}) then "
                    f"{payload!r} ({source})")

    def __len__(self) -> int:
        return len(self._seen)


def read_shard_once(client, stream: str, shard: str, deadline_s: float,
                    on_record=None, stop: threading.Event | None = None) -> list:
    """[(seq, payload)] of one shard from TRIM_HORIZON until caught up (empty Records with
    MillisBehindLatest 0) or the shard's end. Throttling is waited out; any other error
    is raised. Raises TimeoutError at the deadline (or when `stop` is set)."""
    deadline = time.monotonic() + deadline_s
    it = client.get_shard_iterator(StreamName=stream, ShardId=shard,
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    while it:
        if time.monotonic() > deadline or (stop is not None and stop.is_set()):
            raise TimeoutError(f"{shard}: not caught up after {deadline_s} s "
                               f"({len(out)} records read)")
        try:
            resp = client.get_records(ShardIterator=it, Limit=10000)
        except ClientError as e:
            if is_throttle(e):
                time.sleep(0.2)
                continue
            raise
        for r in resp["Records"]:
            item = (int(r["SequenceNumber"]), r["Data"].decode(errors="replace"))
            out.append(item)
            if on_record:
                on_record(*item)
        if not resp["Records"] and resp.get("MillisBehindLatest") == 0:
            break
        it = resp.get("NextShardIterator")
    return out


@dataclass
class ReaderStats:
    passes: int = 0     # shard reads that caught up
    errors: int = 0     # shard reads that failed (dead node, timeout...)


def read_continuously(clients: dict, live_nodes, stream: str, shards: list[str],
                      observer: Observer, rng: random.Random, stop: threading.Event,
                      origin: float, stats: ReaderStats) -> None:
    """Until `stop`: read every shard from TRIM_HORIZON through a random live node (as
    `live_nodes()` tells), feeding every record to `observer`."""
    while not stop.is_set():
        for shard in shards:
            live = live_nodes()
            if not live or stop.is_set():
                break
            node = rng.choice(live)
            t = time.monotonic() - origin

            def seen(seq, payload, node=node, t=t, shard=shard):
                observer.observe(shard, seq, payload, f"reader via {node} at {t:.1f}s")
            try:
                read_shard_once(clients[node], stream, shard, 10.0, seen, stop)
                stats.passes += 1
            except Exception:  # noqa: BLE001 - a node may be down or paused
                stats.errors += 1
        stop.wait(0.2)


def final_read(clients: dict, stream: str, shards: list[str], observer: Observer,
               settle_s: float, origin: float) -> tuple[dict, list[str]]:
    """Reads every shard fully through every node, retrying (any error restarts that
    shard's read) for up to `settle_s` in all. Returns ({node: {shard: [(seq, payload)]}},
    problems for reads that never succeeded)."""
    deadline = time.monotonic() + settle_s
    reads: dict[str, dict[str, list]] = {}
    problems = []
    for node in sorted(clients):
        reads[node] = {}
        for shard in shards:
            last = None
            while True:
                t = time.monotonic() - origin
                try:
                    reads[node][shard] = read_shard_once(
                        clients[node], stream, shard, max(5.0, deadline - time.monotonic()),
                        lambda seq, p, s=shard, n=node, t=t: observer.observe(
                            s, seq, p, f"final read via {n} at {t:.1f}s"))
                    break
                except Exception as e:  # noqa: BLE001 - retried until the deadline
                    last = f"{type(e).__name__}: {e}"
                if time.monotonic() > deadline:
                    problems.append(f"final read of {shard} through {node} never succeeded "
                                    f"within {settle_s:.0f} s: {last}")
                    break
                time.sleep(0.5)
    return reads, problems


# ---- verdict --------------------------------------------------------------------------------


@dataclass
class Window:
    """A span during which one node was down (killed until restarted and ready) or
    paused (SIGSTOP until SIGCONT), in seconds since the run started."""
    kind: str
    node: str
    start: float
    end: float


@dataclass
class Verdict:
    acked: int = 0
    failed: int = 0
    missing: int = 0          # acked, absent from the final read
    misplaced: int = 0        # acked, present but not at its acknowledged (shard, seq)
    duplicates: int = 0       # payloads read more than once
    conflicts: int = 0        # (shard, seq) ever served with two payloads
    reorders: int = 0         # a producer's acked records out of counter order in a shard
    seq_violations: int = 0   # sequence numbers not strictly increasing in a shard
    foreign: int = 0          # payloads never sent
    divergent: int = 0        # (node, shard) reads that differ from the reference read
    unavailable: int = 0      # node-down windows without a single acknowledgement
    unacked_present: int = 0  # failed (unknown-outcome) records that did land: allowed
    problems: list = field(default_factory=list)


def _fmt_ack(a: Ack) -> str:
    return f"{a.payload} acked at {a.t:.1f}s as {a.shard} {seq_parts(a.seq)}"


def _section(v: Verdict, title: str, items: list[str], limit: int = 5) -> None:
    if items:
        v.problems.append(f"{title}:\n      " + "\n      ".join(items[:limit]) +
                          (f"\n      ... and {len(items) - limit} more"
                           if len(items) > limit else ""))


def verdict(acks: list[Ack], failed: int, attempted: set, reads: dict, read_problems: list,
            observer: Observer, windows: list[Window], expect_available: bool,
            grace_s: float) -> Verdict:
    """Checks (a) every acked record is read exactly once at its acked sequence number,
    (b) per shard, each producer's acked records in counter order, (c) no (shard, seq)
    ever served with two payloads, (d) sequence numbers strictly increase per shard,
    (e) with `expect_available`, writes were acknowledged during every node-down window
    (after `grace_s` from its start, when it lasted at least grace + 1 s); also that every
    node serves the same records (divergence) and nothing never sent shows up."""
    v = Verdict(acked=len(acks), failed=failed)
    _section(v, "final read incomplete", read_problems)
    complete = [n for n in sorted(reads) if not any(f"through {n} " in p
                                                    for p in read_problems)]
    ref_node = complete[0] if complete else sorted(reads)[0]
    ref = reads[ref_node]
    where: dict[str, list[tuple[str, int]]] = collections.defaultdict(list)
    for shard, records in ref.items():
        for seq, payload in records:
            where[payload].append((shard, seq))

    # (a) acknowledged => present once, at its sequence number
    missing, misplaced, lost_by = [], [], collections.Counter()
    first_lost: dict[tuple[str, int], str] = {}
    acked_payloads = set()
    for a in sorted(acks, key=lambda a: a.t):
        acked_payloads.add(a.payload)
        locs = where.get(a.payload, [])
        if not locs:
            missing.append(_fmt_ack(a))
            group = (a.shard, seq_parts(a.seq)[1])
            lost_by[group] += 1
            first_lost.setdefault(group, missing[-1])
        elif (a.shard, a.seq) not in locs:
            misplaced.append(f"{_fmt_ack(a)}, read at "
                             f"{[(s, seq_parts(q)) for s, q in locs]}")
    dups = [f"{p!r} read {len(locs)} times: {[(s, seq_parts(q)) for s, q in locs][:4]}"
            for p, locs in where.items() if len(locs) > 1]
    foreign = [f"{p!r} at {locs[0][0]} {seq_parts(locs[0][1])}" for p, locs in where.items()
               if p not in attempted]
    v.missing, v.misplaced, v.duplicates, v.foreign = (len(missing), len(misplaced),
                                                       len(dups), len(foreign))
    v.unacked_present = sum(1 for p in where if p in attempted and p not in acked_payloads)
    if missing:
        by = ", ".join(f"{s} generation {g}: {n}" for (s, g), n in sorted(lost_by.items()))
        _section(v, f"(a) {len(missing)} of {len(acks)} acknowledged records are missing "
                    f"from the final read via {ref_node} (lost per shard and generation: "
                    f"{by}); the first lost of each", list(first_lost.values()),
                 limit=len(first_lost))
    _section(v, f"(a) {len(misplaced)} acknowledged records read at another sequence "
                f"number than acknowledged", misplaced)
    _section(v, f"(a) {len(dups)} records read more than once via {ref_node}", dups)
    _section(v, f"{len(foreign)} records that were never sent", foreign)

    # (b) per shard, each producer's acked records in counter order
    acked_by_payload = {a.payload: a for a in acks}
    reorders = []
    for shard, records in sorted(ref.items()):
        last: dict[int, Ack] = {}
        for _, payload in records:
            a = acked_by_payload.get(payload)
            if a is None:
                continue
            prev = last.get(a.producer)
            if prev is not None and a.counter < prev.counter:
                reorders.append(f"{shard}: {a.payload} (acked {a.t:.1f}s) read after "
                                f"{prev.payload} (acked {prev.t:.1f}s)")
            if prev is None or a.counter > prev.counter:
                last[a.producer] = a
    v.reorders = len(reorders)
    _section(v, f"(b) {len(reorders)} acknowledged records out of producer order", reorders)

    # (c) no (shard, seq) with two payloads, at any time, through any node
    v.conflicts = len(observer.conflicts)
    _section(v, f"(c) {len(observer.conflicts)} sequence numbers served with two different "
                f"payloads", observer.conflicts)

    # (d) strictly increasing sequence numbers
    bad_seq = []
    for node, by_shard in sorted(reads.items()):
        for shard, records in sorted(by_shard.items()):
            seqs = [s for s, _ in records]
            for i in range(1, len(seqs)):
                if seqs[i] <= seqs[i - 1]:
                    bad_seq.append(f"{shard} via {node}: {seq_parts(seqs[i - 1])} then "
                                   f"{seq_parts(seqs[i])} (record {i})")
                    break
    v.seq_violations = len(bad_seq)
    _section(v, "(d) sequence numbers not strictly increasing", bad_seq)

    # every node serves the same history
    divergent = []
    for node in sorted(reads):
        for shard, records in sorted(reads[node].items()):
            if node != ref_node and shard in ref and records != ref[shard]:
                only_here = len(set(records) - set(ref[shard]))
                only_ref = len(set(ref[shard]) - set(records))
                divergent.append(f"{shard} via {node}: {len(records)} records vs "
                                 f"{len(ref[shard])} via {ref_node} ({only_here} only via "
                                 f"{node}, {only_ref} only via {ref_node})")
    v.divergent = len(divergent)
    _section(v, "nodes disagree on a shard's records", divergent)

    # (e) availability while a node is down
    if expect_available:
        dark = []
        for w in windows:
            if w.end - w.start < grace_s + 1.0:
                continue
            n = sum(1 for a in acks if w.start + grace_s <= a.t <= w.end)
            if n == 0:
                dark.append(f"{w.kind} {w.node} {w.start:.1f}s-{w.end:.1f}s: no record "
                            f"acknowledged in {w.start + grace_s:.1f}s-{w.end:.1f}s")
        v.unavailable = len(dark)
        _section(v, f"(e) writes stopped while one node was down (grace {grace_s:.1f} s)",
                 dark)
    return v
