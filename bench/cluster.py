"""The cluster through nginx: throughput, latency, and what each call costs.

nginx in front of two `cds-service serve` instances (one worker each: this machine has two
cores) on one PostgreSQL database (tools/cluster.py), driven by wrk through nginx with signed
calls of fixture 01 (each token once). Besides throughput and p50/p99 it counts what each call
cost: CPU time of the service, nginx and PostgreSQL processes (from /proc), and the database's
transactions and inserted rows (pg_stat_database).

    python bench/cluster.py [--seconds 8] [--connections 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url
from support import ROOT, Load, fixture_path, load_note, service_path, wrk

sys.path.insert(0, str(ROOT / "tools"))
from cluster import Cluster

TICKS = os.sysconf("SC_CLK_TCK")
TOKENS_PER_SECOND = 2500  # more than the cluster answers here: no token is sent twice


def tree_cpu_s(root_pid: int) -> float:
    """User + system CPU seconds of a process and its children (one level: gunicorn's arbiter
    and its workers, nginx's master and workers, the postmaster and its backends)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def postmaster_pid(cluster: Cluster) -> int:
    assert cluster.pg is not None
    return int((cluster.pg.data_dir / "postmaster.pid").read_text().split()[0])


def cpu_by_part(cluster: Cluster) -> dict[str, float]:
    assert cluster.nginx is not None
    return {
        "service": sum(tree_cpu_s(n.proc.pid) for n in cluster.nodes if n.proc),
        "nginx": tree_cpu_s(cluster.nginx.pid),
        "PostgreSQL": tree_cpu_s(postmaster_pid(cluster)),
    }


def database_counts(cluster: Cluster) -> tuple[int, int]:
    """(transactions committed, rows inserted) in the service's database so far."""
    name = make_url(cluster.database_url).database
    ((commits, inserted),) = cluster.sql(
        f"SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = '{name}'"
    )
    return int(commits), int(inserted)


def tokens(cluster: Cluster, path: str, count: int, folder: Path, name: str) -> Path:
    file = folder / name
    file.write_text("\n".join(cluster.token(path) for _ in range(count)) + "\n")
    return file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    body = fixture_path("01")
    path = service_path(body)
    print(f"The cluster through nginx ({load_note()})")
    with tempfile.TemporaryDirectory() as tmp, Cluster(instances=2, workers=1) as cluster:
        folder = Path(tmp)
        warm = tokens(cluster, path, 3000, folder, "warm")
        measured = tokens(cluster, path, TOKENS_PER_SECOND * (args.seconds + 2), folder, "run")
        wrk(cluster.url, [body], args.connections, 1, tokens=warm)
        cpu_before, db_before = cpu_by_part(cluster), database_counts(cluster)
        load: Load = wrk(cluster.url, [body], args.connections, args.seconds, tokens=measured)
        cpu_after, db_after = cpu_by_part(cluster), database_counts(cluster)
    calls = load.requests
    workers = 2
    cpu_ms = {k: (cpu_after[k] - cpu_before[k]) * 1000 / calls for k in cpu_after}
    commits = (db_after[0] - db_before[0]) / calls
    rows = (db_after[1] - db_before[1]) / calls
    print(f"\nfixture 01, signed (ES384), {args.connections} connections through nginx to 2 "
          f"instances x 1 worker, one PostgreSQL, {args.seconds} s\n")
    print("| what | figure |")
    print("| --- | --- |")
    print(f"| throughput | {load.rate:,.0f} calls/s ({load.rate / workers:,.0f} per worker), "
          f"{load.failed} failed |")
    print(f"| latency through nginx | p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms, "
          f"max {load.max_ms:.0f} ms |")
    print(f"| CPU per call | service {cpu_ms['service']:.2f} ms, nginx {cpu_ms['nginx']:.2f} ms, "
          f"PostgreSQL {cpu_ms['PostgreSQL']:.2f} ms |")
    print(f"| calls/s per fully used core (service only) | {1000 / cpu_ms['service']:,.0f} |")
    print(f"| database per call | {commits:.2f} transactions, {rows:.2f} rows inserted |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
