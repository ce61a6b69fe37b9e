"""The production server model: gunicorn with gevent workers.

A worker serves many connections at once on one OS thread: a connection waiting for its client
(idle, or trickling a body) or for the EHR's FHIR server costs a greenlet, not a thread, so
slow peers cannot starve the calls behind them. Blocking calls cooperate because the standard
library is patched (`cooperative()`) before anything that opens a socket or a lock is imported:
`requests` (FHIR fetch, JWK Sets), psycopg 3 (it picks its gevent-aware wait function when it
sees the patch), SQLAlchemy's pool and the fetcher's thread pool (its threads become greenlets).

Every connection is bounded in time: a request's headers must arrive within `keepalive`
seconds of the connection opening or of the previous answer, and each read of a request body
must make progress within `read_timeout` seconds, else the connection is closed.

The app is built once in the arbiter (`preload`), so each worker starts with the knowledge,
card templates and FHIR models loaded and warmed, then forks: the first call to a worker costs
what any other call costs.

On SIGTERM a worker takes the connections the kernel has already queued, closes its copy of
the listening socket, answers the calls on connections open (each then closed), and exits
within `graceful_timeout`: behind a proxy, once every worker of a stopping instance has closed
the socket, a new connection is refused (which the proxy retries elsewhere) rather than
accepted late and reset.

The workers accept from one listening socket, and spread its connections evenly: a worker
takes a new connection only while it holds no more open connections than any other (see
`balance.py`). Keep-alive connections stay with the worker that accepted them, so an EHR's few
connections would otherwise leave cores idle. `run` first checks that the address is free and
refuses to start if it is not.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from cds_service.balance import TICK_S, ConnectionBalance

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
RECHECK_S = 0.005  # how often a worker holding back looks whether it is its turn


def cooperative() -> None:
    """Makes the standard library cooperative (gevent). Must run before the app is imported;
    calling it again is harmless."""
    from gevent import monkey

    if not monkey.is_module_patched("socket"):
        monkey.patch_all()


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2  # one per core: each worker is single-threaded
    connections: int = 1000  # open connections per worker (gevent pool size)
    keepalive: int = 5  # seconds for a request's headers to arrive, idle or trickling
    read_timeout: float = 10.0  # seconds a request body may make no progress
    timeout: int = 30  # a worker that does not check in for this long is restarted
    graceful_timeout: int = 20  # on stop, to finish the calls in progress
    metrics_host: str | None = "127.0.0.1"  # None: no metrics listener
    metrics_port: int = 9464
    access_log: bool = True

    @property
    def metrics_enabled(self) -> bool:
        return self.metrics_host is not None and self.metrics_port > 0


def prepare_metrics_dir() -> str:
    """prometheus-client's multiprocess mode: every worker writes its series to files in one
    folder, which the metrics endpoint adds up. Must be set before prometheus_client is
    imported; emptied at start so a previous run's counts do not leak in."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)
    else:
        folder = tempfile.mkdtemp(prefix="cds-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        atexit.register(_remove_if_master, folder, os.getpid())  # ours: gone with us
    return folder


def _remove_if_master(folder: str, master: int) -> None:
    if os.getpid() == master:  # workers inherit atexit handlers: only the arbiter cleans up
        shutil.rmtree(folder, ignore_errors=True)


# gevent.sleep(0) only lets the greenlets that are ready run, and may resume this one before
# the loop polls for I/O again (gevent's own docstring warns of it): under load, the requests
# already read went round and round while a connection whose request arrived later waited
# 40-60 ms for the loop to poll. Any positive pause waits for the next loop iteration, which
# polls first.
NEXT_LOOP_S = 1e-6


def let_other_connections_go() -> None:
    """After a request: every other connection with a request waiting, read or not yet read,
    is served before this one's next request."""
    import gevent

    gevent.sleep(NEXT_LOOP_S)


def run(
    app: WsgiApp,
    options: ServerOptions,
    on_worker_start: Callable[[], None] | None = None,
    on_worker_exit: Callable[[], None] | None = None,
    log_level: int = logging.INFO,
    log_format: str = "text",
) -> None:
    """Serves `app` (already built: preloaded) until stopped. Call `cooperative()` first.
    `on_worker_start` runs in each worker after the fork, before it accepts a connection;
    `on_worker_exit` as it stops (e.g. to write what it holds)."""
    import gevent
    from gevent.server import StreamServer
    from gunicorn.app.base import BaseApplication
    from gunicorn.workers.base_async import AsyncWorker
    from gunicorn.workers.ggevent import GeventWorker

    balance = ConnectionBalance(options.workers)  # before the fork: the workers share it

    class BalancedServer(StreamServer):  # type: ignore[misc]  # gevent's types are partial
        """Accepts only while this worker holds no more connections than any other; else
        stops accepting, and looks again every RECHECK_S."""

        draining = False  # on SIGTERM: take whatever is queued, fair or not
        holding = False

        def do_read(self) -> Any:
            if not self.draining and not balance.may_accept():
                if not self.holding:
                    self.holding = True
                    self.stop_accepting()
                    gevent.spawn(self._accept_when_fair)
                return None
            accepted = super().do_read()
            if accepted:
                balance.opened()
            return accepted

        def _accept_when_fair(self) -> None:
            while not (self.closed or self.draining or balance.may_accept()):
                gevent.sleep(RECHECK_S)
            self.holding = False
            if not (self.closed or self.draining):
                self.start_accepting()

    class Worker(GeventWorker):
        servers: tuple[Any, ...] = ()

        def run(self) -> None:
            # gunicorn's GeventWorker.run, keeping its servers so that a SIGTERM can stop
            # accepting at once (handle_exit).
            from gevent.pool import Pool

            balanced = self.cfg.workers > 1 and balance.join()
            servers = []
            for sock in self.sockets:
                sock.setblocking(1)
                server = (BalancedServer if balanced else StreamServer)(
                    sock,
                    handle=partial(self.handle, ListenerName(sock)),
                    spawn=Pool(self.worker_connections),
                )
                if self.cfg.workers > 1:
                    server.max_accept = 1
                server.start()
                servers.append(server)
            self.servers = tuple(servers)
            if balanced:
                self.log.info("Worker %s accepting in turn with the others", self.pid)
            while self.alive:  # the arbiter's heartbeat and the balance's, one loop
                self.notify()
                balance.tick()
                gevent.sleep(TICK_S)
            self.stop_accepting()
            # The calls in progress finish, within graceful_timeout.
            deadline = time.monotonic() + self.cfg.graceful_timeout
            while time.monotonic() < deadline:
                if all(s.pool.free_count() == s.pool.size for s in self.servers):
                    return
                self.notify()
                gevent.sleep(0.1)
            self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
            for server in self.servers:
                server.stop(timeout=1)

        def handle_exit(self, sig: Any, frame: Any) -> None:
            # gunicorn's worker goes on accepting for up to a second after a SIGTERM, and
            # closes each of those connections after one call: a proxy keeps opening new
            # ones, and one still in the listen queue when the socket finally closes is reset
            # after the proxy sent its call (which it then cannot resend). Closing the
            # listener first turns that into a refused connection, which the proxy retries
            # on another instance; calls on connections already open are still answered.
            import gevent

            self.alive = False
            gevent.spawn(self.stop_accepting)

        def stop_accepting(self) -> None:
            balance.leave()  # the others no longer wait for this worker to take its turn
            for server in self.servers:
                if server.closed:
                    continue
                server.draining = True
                # The kernel completes handshakes on its own: a connection it queued since the
                # loop last polled would be reset by the close, after the proxy sent its call.
                # Taking each one first leaves a gap of one system call, not of the calls the
                # worker was busy with meanwhile.
                server.stop_accepting()
                try:
                    while accepted := server.do_read():
                        server.do_handle(*accepted)
                except OSError as exc:  # e.g. out of file descriptors: close all the same
                    self.log.warning("could not take the queued connections: %s", exc.strerror)
                server.close()

        def handle(self, listener: Any, client: Any, addr: Any) -> None:
            # gevent's worker makes each connection blocking without limit; a read timeout
            # instead closes a connection whose body stops arriving.
            client.settimeout(options.read_timeout)
            try:
                AsyncWorker.handle(self, listener, client, addr)
            finally:
                balance.closed()

        def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
            try:
                return super().handle_request(listener_name, req, sock, addr)
            finally:
                # Without this, a client that sends its next request as soon as it has the
                # answer (loopback, a busy EHR) finds it already read, and keeps the worker.
                let_other_connections_go()

    addresses = [(options.host, options.port)]
    if options.metrics_enabled:
        if options.metrics_port == options.port:
            raise ValueError("the metrics port must differ from the service port")
        addresses.append((options.metrics_host, options.metrics_port))
    for host, port in addresses:
        check_free(host, port)
    binds = [f"{host}:{port}" for host, port in addresses]

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
        def load_config(self) -> None:
            self.cfg.set("bind", binds)
            self.cfg.set("workers", options.workers)
            self.cfg.set("worker_class", Worker)
            self.cfg.set("worker_connections", options.connections)
            self.cfg.set("keepalive", options.keepalive)
            self.cfg.set("timeout", options.timeout)
            self.cfg.set("graceful_timeout", options.graceful_timeout)
            self.cfg.set("preload_app", True)
            self.cfg.set("reuse_port", False)  # one listening socket, spread evenly: see above
            self.cfg.set("control_socket_disable", True)  # unused; one shared path per user
            self.cfg.set("child_exit", partial(_worker_gone, balance))
            if on_worker_start is not None:
                self.cfg.set("post_worker_init", lambda _worker: on_worker_start())
            if on_worker_exit is not None:
                self.cfg.set("worker_exit", lambda _server, _worker: on_worker_exit())
            self.cfg.set("loglevel", logging.getLevelName(log_level).lower())
            self.cfg.set("logger_class", _logger_class(log_format))
            if options.access_log:
                self.cfg.set("accesslog", "-")
                # Paths only: no query strings, no bodies, no tokens.
                self.cfg.set("access_log_format", ACCESS_FORMAT)

        def load(self) -> WsgiApp:
            return app

    Server().run()


LISTENING = "Listening at: %s (%s)"  # gunicorn's start line
# The access line: client, method, path (no query string), status, bytes, milliseconds. No
# headers, no bodies, no tokens.
ACCESS_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def _logger_class(log_format: str) -> type:
    """gunicorn's logger, in the service's format, and with its start line naming the
    addresses as the docs show them (`Listening at: http://HOST:PORT, http://HOST:PORT (pid)`)
    whatever gunicorn itself would print there."""
    from gunicorn.glogging import Logger

    from cds_service.logs import formatter

    class ServiceLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            addresses = ", ".join(f"http://{bind}" for bind in cfg.bind)

            def name_addresses(record: logging.LogRecord) -> bool:
                args = record.args
                if record.msg == LISTENING and isinstance(args, tuple) and args:
                    record.args = (addresses, *args[1:])
                return True

            self.error_log.addFilter(name_addresses)
            if log_format == "json":
                for log in (self.error_log, self.access_log):
                    for handler in log.handlers:
                        handler.setFormatter(formatter("json"))

        def atoms(self, resp: Any, req: Any, environ: dict[str, Any], took: Any) -> dict[str, Any]:
            """The fields ACCESS_FORMAT prints, only: gunicorn's own builds some sixty (every
            request and response header, every environ entry) for each call, 1.5% of a typical
            call's CPU, and a header could reach the line if the format named it."""
            sent = getattr(resp, "sent", None)
            return {
                "h": environ.get("REMOTE_ADDR", "-"),
                "m": environ.get("REQUEST_METHOD"),
                "U": environ.get("PATH_INFO"),
                "s": str(resp.status).split(None, 1)[0],
                "b": str(sent) if sent is not None else "-",
                "M": took.seconds * 1000 + took.microseconds // 1000,
            }

    return ServiceLogger


class ListenerName:
    """All gunicorn's connection handler asks of the listening socket is its name, and it asks
    when the handler starts: for a connection accepted just before a SIGTERM closes the
    socket, that is after the close, and the closed socket's name is an error."""

    def __init__(self, sock: socket.socket) -> None:
        self._name = sock.getsockname()

    def getsockname(self) -> Any:
        return self._name


class AddressInUse(OSError):
    pass


def check_free(host: str, port: int) -> None:
    """Raises AddressInUse if something listens on host:port already (another copy of the
    service included): one line at once, where gunicorn would retry for five seconds and then
    stop with its own message."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise AddressInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _worker_gone(balance: ConnectionBalance, _server: Any, worker: Any) -> None:
    """In the arbiter, when a worker has exited: its connections and its metric files go."""
    balance.leave(worker.pid)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
