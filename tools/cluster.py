"""Several instances as a health system runs them, on loopback: nginx (Debian's package) in front
of two or more `cds-service serve` processes in production mode (signed calls only), sharing one
PostgreSQL database (a throwaway cluster on a Unix socket, tests/pg_cluster.py).

    python tools/cluster.py [--instances 2] [--workers 1] [--port 8080]   (`make cluster`)

runs it in the foreground until Ctrl-C, which stops everything and removes its folder. A CDS
client's key pair is made for the run: `token` prints a signed token for one call.

The test suite and bench/cluster.py use the same class:

    with Cluster(instances=2) as cluster:
        cluster.post("/cds-services/lsb-order-select", body)   # through nginx, signed
        cluster.restart(0)                                      # SIGTERM, wait, start again
        cluster.kill(1)                                         # SIGKILL
        cluster.pg_restart()
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from jwt_helpers import TestIssuer, write_trusted_clients  # noqa: E402
from pg_cluster import PgCluster  # noqa: E402

from cds_service.testing import free_port  # noqa: E402

NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
ISSUER = "https://ehr.cluster.invalid/issuer"
START_TIMEOUT_S = 60
# The clock-free part of a deployment's settings; the URL, database and files are added.
INSTANCE_ENV = {
    "CDS_SANDBOX": "0",
    "CDS_MIGRATE_ON_START": "0",  # `cds-service db upgrade` runs once, before any instance
    "CDS_PATIENT_KEY_SECRET": "cluster-only-secret-0123456789abcdef0123456789",
}


def find_nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not path:
        raise RuntimeError("nginx not found: `make cluster` installs it (apt-get install nginx)")
    return path


def worker_user() -> pwd.struct_passwd:
    """Who nginx's workers run as when it is started as root: www-data (Debian's nginx package
    creates it), else nobody."""
    try:
        return pwd.getpwnam("www-data")
    except KeyError:
        return pwd.getpwnam("nobody")


def wait_ready(url: str, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{url} did not become ready:\n{tail}")
        time.sleep(0.1)


@dataclass
class Instance:
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    instances: int = 2
    workers: int = 1
    port: int = 0  # nginx's; 0 picks a free one
    extra_env: dict[str, str] = field(default_factory=dict)
    root: Path = field(init=False)
    pg: PgCluster | None = field(init=False, default=None)
    database_url: str = field(init=False, default="")
    nodes: list[Instance] = field(init=False, default_factory=list)
    nginx: subprocess.Popen[bytes] | None = field(init=False, default=None)
    issuer: TestIssuer = field(init=False)

    # -- start and stop ---------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cds-cluster-", dir="/tmp"))
        self.port = self.port or free_port()
        self.issuer = TestIssuer(issuer=ISSUER, kid="cluster-key-1")
        try:
            self.pg = PgCluster.start()
            self.database_url = self.pg.create_database()
            self._cli("db", "upgrade", "--database-url", self.database_url)
            write_trusted_clients(self.root / "trusted-clients.yaml", self.issuer.entry())
            for n in range(self.instances):
                self.nodes.append(Instance(free_port(), self.root / f"instance-{n}.log"))
                self.start_instance(n, wait=False)  # they build their apps side by side
            for node in self.nodes:
                wait_ready(node.url, node.proc, node.log)
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful: finishes the calls in progress
            _wait(self.nginx, 20)
        for i in range(len(self.nodes)):
            self.stop_instance(i)
        if self.pg is not None:
            self.pg.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CDS_")}
        return {
            **inherited,
            **INSTANCE_ENV,
            "CDS_DATABASE_URL": self.database_url,
            "CDS_TRUSTED_CLIENTS": str(self.root / "trusted-clients.yaml"),
            "CDS_PUBLIC_URL": self.url,
            **self.extra_env,
        }

    def _cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "cds_service.cli", *args],
            env=self.env(), check=True, capture_output=True, timeout=120,
        )

    # -- instances --------------------------------------------------------------------------

    def start_instance(self, i: int, wait: bool = True) -> None:
        node = self.nodes[i]
        with open(node.log, "ab") as log:
            node.proc = subprocess.Popen(
                [sys.executable, "-m", "cds_service.cli", "serve", "--port", str(node.port),
                 "--workers", str(self.workers), "--metrics-port", "0"],
                env=self.env(), stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True,  # Ctrl-C reaches `make cluster`, which stops it in turn
            )
        if wait:
            wait_ready(node.url, node.proc, node.log)

    def stop_instance(self, i: int) -> None:
        """SIGTERM: the instance stops accepting, finishes its calls in progress and exits."""
        proc = self.nodes[i].proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            _wait(proc, 40)

    def restart(self, i: int) -> None:
        self.stop_instance(i)
        self.start_instance(i)

    def kill(self, i: int) -> None:
        """SIGKILL to the instance's every process (gunicorn's arbiter and its workers)."""
        proc = self.nodes[i].proc
        assert proc is not None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)

    # -- nginx and PostgreSQL ---------------------------------------------------------------

    def nginx_config(self) -> str:
        servers = "\n        ".join(
            f"server 127.0.0.1:{n.port} max_fails=0;" for n in self.nodes
        )
        # As root, nginx's workers run as an unprivileged user (Debian's www-data).
        user = ""
        if os.geteuid() == 0:
            entry = worker_user()
            user = f"user {entry.pw_name} {grp.getgrgid(entry.pw_gid).gr_name};"
        return (
            NGINX_TEMPLATE.read_text()
            .replace("{{user}}", user)
            .replace("{{prefix}}", str(self.root))
            .replace("{{servers}}", servers)
            .replace("{{listen}}", f"127.0.0.1:{self.port}")
        )

    def _start_nginx(self) -> None:
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / "tmp" / name).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.root.chmod(0o755)
            entry = worker_user()
            for path in (self.root / "tmp").rglob("*"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        conf = self.root / "nginx.conf"
        conf.write_text(self.nginx_config())
        log = self.root / "nginx-error.log"
        self.nginx = subprocess.Popen(
            [find_nginx(), "-p", str(self.root), "-c", str(conf), "-e", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_ready(self.url, self.nginx, log)

    def pg_restart(self) -> None:
        """Stops PostgreSQL (fast: ends its sessions, writes every committed transaction) and
        starts it again with the same settings."""
        assert self.pg is not None
        self.pg._run("pg_ctl", "-D", str(self.pg.data_dir), "-l", str(self.pg.root / "server.log"),
                     "-m", "fast", "-w", "-t", "60", "restart")

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        import psycopg
        from sqlalchemy.engine import make_url

        assert self.pg is not None
        name = make_url(self.database_url).database
        with psycopg.connect(host=str(self.pg.socket_dir), user="postgres", dbname=name) as conn:
            return list(conn.execute(query).fetchall())  # type: ignore[arg-type]

    # -- calls ------------------------------------------------------------------------------

    def token(self, path: str) -> str:
        """A signed token (new jti) for one call to `path` through nginx."""
        return self.issuer.sign(self.url + path)

    def post(
        self, path: str, body: Any, *, base: str | None = None, token: str | None = None,
        session: requests.Session | None = None, timeout: float = 30,
    ) -> requests.Response:
        """POSTs a signed call to `path` through nginx (or to `base`, one instance's URL)."""
        token = token or self.token(path)
        return (session or requests).post(
            (base or self.url) + path, json=body, timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2, help="service instances (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="workers per instance (default 1)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1")
    args = parser.parse_args(argv)
    stop = False

    def on_signal(_sig: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cluster = Cluster(instances=args.instances, workers=args.workers, port=args.port)
    cluster.start()
    try:
        path = "/cds-services/lsb-order-select"
        print(f"nginx on {cluster.url}, in front of:")
        for n in cluster.nodes:
            print(f"  cds-service serve on {n.url} (log {n.log})")
        print(f"PostgreSQL: {cluster.database_url}")
        print(f"Folder: {cluster.root} (nginx.conf, logs; removed on exit)")
        print("\nA signed call (each token once: a second use is refused as a replay):")
        print(f"  curl -s {cluster.url}{path} -H 'Content-Type: application/json' \\\n"
              f"    -H 'Authorization: Bearer {cluster.token(path)}' \\\n"
              f"    --data @fixtures/requests/01-crps-left-apixaban.json")
        print("\nCtrl-C stops everything.", flush=True)
        while not stop:
            time.sleep(0.2)
    finally:
        print("stopping: nginx, the instances, PostgreSQL", flush=True)
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
