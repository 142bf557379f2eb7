#!/usr/bin/env python3
"""Prints one table from the JSON lines of mchatd and Synapse runs: the
median of each figure per server and the ratio (how many times better
mchatd is; >1 means mchatd wins)."""

import json
import statistics
import sys

FIGURES = [
    # (label, path, higher_is_better)
    ("send->receive p50 (ms)", ("latency_ms", "p50"), False),
    ("send->receive p99 (ms)", ("latency_ms", "p99"), False),
    ("send round trip p50 (ms)", ("send_rtt_ms", "p50"), False),
    ("sends/s, 1 client", ("throughput", "c1", "msg_per_s"), True),
    ("sends/s, 16 clients", ("throughput", "c16", "msg_per_s"), True),
    ("history page p50 (ms)", ("history_ms", "p50"), False),
    ("history page p99 (ms)", ("history_ms", "p99"), False),
    ("server RSS after (MB)", ("mem_after", "rss_mb"), False),
    ("server CPU s, c16 phase", ("server_cpu", "throughput_c16", "server_cpu_s"), False),
]


def get(d, path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def main(path):
    runs = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                runs.setdefault(d.get("label") or d.get("api"), []).append(d)
    mine, peer = runs.get("mchatd", []), runs.get("synapse", [])
    print(f"runs: mchatd {len(mine)}, synapse {len(peer)} (medians; same machine, loopback, SQLite, synchronous=FULL)")
    print(f"{'figure':<28} {'mchatd':>12} {'synapse':>12} {'ratio':>10}")
    for label, p, higher in FIGURES:
        a = [v for v in (get(d, p) for d in mine) if isinstance(v, (int, float))]
        b = [v for v in (get(d, p) for d in peer) if isinstance(v, (int, float))]
        ma = statistics.median(a) if a else None
        mb = statistics.median(b) if b else None
        ratio = ""
        if ma and mb:
            r = (ma / mb) if higher else (mb / ma)
            ratio = f"{r:,.1f}x"
        fa = f"{ma:,.2f}" if ma is not None else "-"
        fb = f"{mb:,.2f}" if mb is not None else "-"
        print(f"{label:<28} {fa:>12} {fb:>12} {ratio:>10}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/peer-compare/results.jsonl")
