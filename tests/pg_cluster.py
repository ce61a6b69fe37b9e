"""A throwaway PostgreSQL cluster for the test suite, on a Unix socket in a temporary folder.

The cluster listens on no TCP port (`listen_addresses=''`), so it cannot clash with another
server or be reached from outside this machine. PostgreSQL refuses to run as root: when the
tests run as root (as CI does), initdb and the server run as the `postgres` system user,
which is created if it is missing. The folder is removed when the cluster stops.

    cluster = PgCluster.start()
    url = cluster.create_database()      # a fresh, empty database
    ...
    cluster.stop()
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import psycopg.sql

SYSTEM_USER = "postgres"


class PgUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (see `make postgres`)."""


def find_bin_dir() -> Path:
    """PG_BIN if set, else the newest /usr/lib/postgresql/*/bin, else initdb on PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise PgUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the `postgresql` "
        "package (make postgres) or set PG_BIN"
    )


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SYSTEM_USER],
            check=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class PgCluster:
    root: Path
    bin_dir: Path
    owner: tuple[int, int] | None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))
    _stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @classmethod
    def start(cls) -> PgCluster:
        bin_dir = find_bin_dir()
        owner = _run_as()
        # Short path: a Unix socket path is limited to about 100 characters.
        root = Path(tempfile.mkdtemp(prefix="cds-pg-", dir="/tmp"))
        cluster = cls(root=root, bin_dir=bin_dir, owner=owner)
        atexit.register(cluster.stop)
        try:
            cluster._init_and_start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _run(self, *args: str) -> None:
        kwargs: dict = {}
        if self.owner is not None:
            kwargs = {"user": self.owner[0], "group": self.owner[1], "extra_groups": []}
        proc = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            **kwargs,
        )
        if proc.returncode != 0:
            log = (self.root / "server.log")
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{tail}"
            )

    def _init_and_start(self) -> None:
        self.data_dir.mkdir(mode=0o700)
        self.socket_dir.mkdir(mode=0o700)
        if self.owner is not None:
            for path in (self.root, self.data_dir, self.socket_dir):
                os.chown(path, *self.owner)
        self._run(
            "initdb", "-D", str(self.data_dir), "--username=postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )
        self.resume()

    def resume(self) -> None:
        """Starts the server (again, after `pause`): the same data, the same socket."""
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories={self.socket_dir}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )

    @property
    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def pause(self) -> None:
        """Stops the server, keeping its data: a database outage."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def add_login(self, role: str, password: str) -> str:
        """A role that must give its password (every other role is trusted, as before), with a
        database of its own; the URL that logs in as it to that database, password given."""
        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(
                psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    psycopg.sql.Identifier(role), psycopg.sql.Literal(password)
                )
            )
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    psycopg.sql.Identifier(role), psycopg.sql.Identifier(role)
                )
            )
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(f"local all {role} scram-sha-256\n" + hba.read_text())
        self._run("pg_ctl", "-D", str(self.data_dir), "reload")
        for _ in range(200):  # a reload is a signal: wait until a login without it fails
            try:
                psycopg.connect(host=str(self.socket_dir), user=role, dbname="postgres").close()
            except psycopg.OperationalError:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"pg_hba.conf reload did not take effect for {role}")
        return f"postgresql+psycopg://{role}:{password}@/{role}?host={self.socket_dir}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        name = f"cds_test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(
            host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
