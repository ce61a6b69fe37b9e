"""The `cds-service` command: serve the app, replay fixtures against a running service, migrate
the database and report on clinicians' feedback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests  # at run time imported where used: `serve` patches the standard library first


def serve(args: argparse.Namespace) -> int:
    """Runs the app under gunicorn with gevent workers (cds_service/server.py)."""
    from cds_service import server

    server.cooperative()  # first: before anything imports sockets, locks or psycopg
    options = server_options(args)
    if options.metrics_enabled:
        server.prepare_metrics_dir()  # before prometheus_client is imported

    from cds_service import create_app
    from cds_service.config import ConfigError
    from cds_service.db.wal_checkpoint import serving_checkpointer
    from cds_service.heap import settle_for_serving
    from cds_service.logs import LogSettingError, configure, log_settings
    from cds_service.metrics import by_listener, metrics_app
    from cds_service.warmup import warm_up, warm_worker

    # The service's own lines beside gunicorn's, on stderr. None names a patient or holds a token.
    try:
        level, form = log_settings()
    except LogSettingError as exc:
        print(f"cds-service: cannot start: {exc}", file=sys.stderr)
        return 2
    configure(level, form)
    # No format here or in gunicorn's shows a thread, a multiprocessing name or a source line,
    # so no log record gathers them: under gevent that took a fifth of each line's time
    # (logging HOWTO, "Optimization"). gunicorn's own lines show the process id: kept.
    logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    # Built once, before gunicorn forks its workers: a wrong configuration stops here with a
    # message, migrations run once, and every worker starts with the knowledge, templates and
    # FHIR models loaded and the hot path warmed.
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"cds-service: cannot start: {exc}", file=sys.stderr)
        return 2
    warm_up(app)
    app.extensions["cds_db"].dispose()  # each worker opens its own connections after the fork
    settle_for_serving()  # the collector: what is loaded frozen, heavy calls left alone
    # Issued-card records are written in batches off the request path (feedback/issued.py) on
    # SQLite, where every worker's write queues for one lock and only this host's workers use
    # the file. On PostgreSQL, which several instances share, a call writes its cards before
    # it answers: feedback the EHR sends at once, through any instance, finds them.
    issued = app.extensions["cds_feedback"].issued
    issued.background = app.extensions["cds_db"].dialect.name == "sqlite"
    # On SQLite, checkpoints of its write-ahead log run beside the loop (db/wal_checkpoint.py).
    checkpointer = serving_checkpointer(app.extensions["cds_db"])

    def start_worker() -> None:
        warm_worker(app)
        if checkpointer is not None:
            checkpointer.start()

    wsgi: Any = app
    if options.metrics_enabled:
        wsgi = by_listener(app, metrics_app(), options.metrics_port)
    try:
        server.run(
            wsgi, options, on_worker_start=start_worker, on_worker_exit=issued.flush,
            log_level=level, log_format=form,
        )
    except server.AddressInUse as exc:
        print(f"cds-service: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def server_options(args: argparse.Namespace) -> Any:
    from cds_service.server import ServerOptions

    metrics_host, metrics_port = None, 0
    if args.metrics_port:
        metrics_host, metrics_port = args.metrics_host, args.metrics_port
    return ServerOptions(
        host=args.host,
        port=args.port,
        workers=args.workers,
        connections=args.connections,
        keepalive=args.keepalive,
        read_timeout=args.read_timeout,
        timeout=args.worker_timeout,
        metrics_host=metrics_host,
        metrics_port=metrics_port,
    )


def _database_url(args: argparse.Namespace) -> str:
    from cds_service.db import default_database_url

    return (
        getattr(args, "database_url", None)
        or os.environ.get("CDS_DATABASE_URL")
        or default_database_url()
    )


def _engine(args: argparse.Namespace) -> Any:
    from cds_service.db import make_engine

    return make_engine(_database_url(args))


def db_upgrade(args: argparse.Namespace) -> int:
    from cds_service.db import safe_url
    from cds_service.db.migrate import upgrade

    engine = _engine(args)
    try:
        revision = upgrade(engine, args.revision)
    finally:
        engine.dispose()
    print(f"{safe_url(engine.url)}: schema at {revision}")
    return 0


def db_current(args: argparse.Namespace) -> int:
    from cds_service.db import safe_url
    from cds_service.db.migrate import current_revision, head_revision

    engine = _engine(args)
    try:
        revision = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "up to date" if revision == head else f"needs `cds-service db upgrade` to {head}"
    print(f"{safe_url(engine.url)}: schema at {revision} ({state})")
    return 0 if revision == head else 1


def utc_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def feedback_report(args: argparse.Namespace) -> int:
    from cds_service.db.migrate import current_revision, head_revision
    from cds_service.feedback.report import build_report, format_report

    engine = _engine(args)
    try:
        if current_revision(engine) != head_revision():
            print(
                "cds-service: the database has no feedback schema yet: run "
                "`cds-service db upgrade`",
                file=sys.stderr,
            )
            return 1
        reports = build_report(engine, tenant=args.tenant, since=args.since)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], indent=2))
    else:
        scope = f"tenant {args.tenant}" if args.tenant else "all tenants"
        if args.since:
            scope += f", cards issued since {args.since.isoformat()}"
        print(format_report(reports, scope))
    return 0


def feedback_purge(args: argparse.Namespace) -> int:
    from cds_service.config import Settings
    from cds_service.db.migrate import current_revision, head_revision
    from cds_service.feedback.retention import Retention, format_purged, purge

    try:
        settings = Settings.from_env()
        retention = Retention(
            comment_days=_first(args.comment_days, settings.feedback_retention_days),
            record_days=_first(args.record_days, settings.feedback_record_retention_days),
        )
    except ValueError as exc:
        print(f"cds-service: {exc}", file=sys.stderr)
        return 2
    engine = _engine(args)
    try:
        if current_revision(engine) != head_revision():
            print("cds-service: the database is not at the current schema: run "
                  "`cds-service db upgrade`", file=sys.stderr)
            return 1
        result = purge(engine, retention, datetime.now(UTC))
    finally:
        engine.dispose()
    print(json.dumps(result.as_dict()) if args.json else format_purged(result, retention))
    return 0


def _first(value: int | None, default: int) -> int:
    return default if value is None else value


def format_card(card: dict[str, Any]) -> str:
    marks = {"info": "[info]", "warning": "[WARNING]", "critical": "[CRITICAL]"}
    lines = [f"{marks.get(card['indicator'], card['indicator'])} {card['summary']}"]
    topic = card.get("source", {}).get("topic", {}).get("code")
    if topic:
        lines.append(f"  kind: {topic}")
    for line in (card.get("detail") or "").splitlines():
        lines.append(f"  | {line}")
    for s in card.get("suggestions") or ():
        lines.append(f"  > suggestion: {s['label']}")
    for link in card.get("links") or ():
        lines.append(f"  > link: {link['label']} <{link['url']}>")
    return "\n".join(lines)


def service_for_hook(hook: Any) -> str:
    """The service that answers a request's hook (order-select, order-sign, appointment-book)."""
    from cds_service import services

    return next((s.id for s in services.ALL if s.hook == hook), "lsb-order-sign")


def replay(args: argparse.Namespace) -> int:
    """Posts fixture requests to a running service and prints the cards readably. Exits 1 when
    any call did not answer 200, unless --allow-errors."""
    import requests  # here, not at the top: `serve` patches the standard library first

    paths: list[Path] = []
    for name in args.fixtures:
        path = Path(name)
        paths += sorted(path.glob("*.json")) if path.is_dir() else [path]
    try:
        signer = _signer(args)
    except (OSError, ValueError) as exc:
        print(f"cds-service: {exc}", file=sys.stderr)
        return 2
    failures = 0
    with requests.Session() as session:
        for path in paths:
            body = json.loads(path.read_text(encoding="utf-8"))
            service = args.service or service_for_hook(body.get("hook"))
            url = f"{args.url.rstrip('/')}/cds-services/{service}"
            headers = {"Content-Type": "application/json"}
            if signer is not None:  # a fresh token per call: each jti is accepted once
                audience = f"{(args.public_url or args.url).rstrip('/')}/cds-services/{service}"
                headers["Authorization"] = f"Bearer {signer(audience)}"
            elif args.token:
                headers["Authorization"] = f"Bearer {args.token}"
            try:
                response = session.post(url, json=body, headers=headers, timeout=args.timeout)
            except requests.RequestException as exc:
                failures += 1
                print(f"== {path.name} -> {service}: no answer ({type(exc).__name__})\n")
                continue
            elapsed = response.elapsed.total_seconds() * 1000
            print(f"== {path.name} -> {service}: HTTP {response.status_code} ({elapsed:.0f} ms)")
            if response.status_code != 200:
                failures += 1
                print(_readable(response))
                continue
            cards = response.json().get("cards", [])
            print("(no cards)" if not cards else "\n\n".join(format_card(c) for c in cards))
            print()
    if failures:
        print(f"{failures} of {len(paths)} call(s) did not answer 200", file=sys.stderr)
    return 1 if failures and not args.allow_errors else 0


def _signer(args: argparse.Namespace) -> Any:
    """With --key and --issuer: a function minting a token for an audience; else None."""
    if not args.key:
        return None
    if not args.issuer:
        raise ValueError("--key needs --issuer (the trusted-clients entry's issuer)")
    from cds_service import tokens

    key = tokens.load_key(args.key)
    kid = args.kid or tokens.public_jwk(key)["kid"]  # once, not for every fixture
    return lambda audience: tokens.mint(key, args.issuer, audience, kid=kid)


def token(args: argparse.Namespace) -> int:
    """Prints a test token signed with a key file, as an EHR would sign one."""
    from cds_service import tokens

    audience = args.audience or tokens.audiences(args.public_url)
    try:
        key = tokens.load_key(args.key)
        lifetime = tokens.LIFETIME_S if args.lifetime is None else args.lifetime
        print(tokens.mint(key, args.issuer, audience, args.kid, lifetime))
    except (OSError, ValueError) as exc:
        print(f"cds-service: {exc}", file=sys.stderr)
        return 2
    return 0


def jwk(args: argparse.Namespace) -> int:
    """Prints the public JWK (or a JWK Set) of a PEM key, for a trusted-clients file."""
    from cds_service import tokens

    try:
        key = tokens.public_jwk(tokens.load_key(args.pem), args.kid)
    except (OSError, ValueError) as exc:
        print(f"cds-service: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"keys": [key]} if args.set else key, indent=2))
    return 0


def _readable(response: requests.Response) -> str:
    try:
        return json.dumps(response.json(), indent=2)
    except ValueError:
        return response.text[:2000]


def protocol_check(args: argparse.Namespace) -> int:
    """Checks a clinic protocol file as start-up would, without starting the service."""
    from cds_service.knowledge import ProtocolError, load_knowledge
    from cds_service.knowledge.protocol import load_protocol

    kn = load_knowledge()
    try:
        protocol = load_protocol(args.file, kn)
    except ProtocolError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK: {protocol.citation}")
    for drug_id, hold in protocol.holds.items():
        hold = protocol.usual_holds.get(drug_id, hold)
        restart = f"{hold.restart.value} h" if hold.restart else "not set"
        print(f"  {kn.drugs.by_id[drug_id].name}: hold {hold.before[0].value} h, restart {restart}")
        for rule in protocol.kidney_holds.get(drug_id, ()):
            unit = f" {rule.unit}" if rule.unit else ""
            print(f"    kidney function below {rule.below:g}{unit}: hold {rule.before.value} h")
    for limit in protocol.lab_limits.values():
        side = "below" if limit.side == "low" else "above"
        print(f"  {limit.lab}: warn {side} {limit.value:g} {limit.unit or '(no unit)'}")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lsb-cds-service")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "serve",
        help="serve the CDS Hooks API with gunicorn",
        description="Serve the CDS Hooks API with gunicorn (gevent workers). Settings come "
        "from CDS_* environment variables (README, docs/deploying.md); CDS_DEV_MODE=1 for "
        "development.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080, help="port to listen on")
    p.add_argument("--workers", type=int, default=2, help="processes; one per CPU core")
    p.add_argument(
        "--connections", type=int, default=1000, help="open connections per worker (gevent)"
    )
    p.add_argument(
        "--keepalive", type=int, default=5,
        help="seconds a connection may wait for a request's headers (idle or slow clients)",
    )
    p.add_argument(
        "--read-timeout", type=float, default=10.0,
        help="seconds a request body may make no progress before the connection is closed",
    )
    p.add_argument(
        "--worker-timeout", type=int, default=30,
        help="a worker silent for this long is restarted",
    )
    p.add_argument("--metrics-host", default="127.0.0.1", help="where /metrics listens")
    p.add_argument(
        "--metrics-port", type=int, default=int(os.environ.get("CDS_METRICS_PORT", 9464)),
        help="port of /metrics, apart from the service port; 0: off (CDS_METRICS_PORT)",
    )
    p.set_defaults(func=serve)
    p = sub.add_parser("replay", help="post fixture requests to a running service")
    p.add_argument("url", help="base URL of the service, e.g. http://127.0.0.1:8080")
    p.add_argument("fixtures", nargs="+", help="request files or folders of them")
    p.add_argument("--service", help="service id (default: from each request's hook)")
    p.add_argument("--token", help="a bearer JWT, for a service that is not in dev mode")
    p.add_argument(
        "--key", help="a PEM private key: sign a fresh token for each call (with --issuer)"
    )
    p.add_argument("--issuer", help="the tokens' iss: the trusted-clients entry's issuer")
    p.add_argument("--kid", help="the key's kid (default: its RFC 7638 thumbprint)")
    p.add_argument(
        "--public-url", help="the service's CDS_PUBLIC_URL, for each token's aud (default: URL)"
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per call (default: 10)")
    p.add_argument(
        "--allow-errors", action="store_true",
        help="exit 0 even when a call does not answer 200 (default: exit 1)",
    )
    p.set_defaults(func=replay)

    p = sub.add_parser(
        "token",
        help="print a test token signed with a key file",
        description="Print a JWT signed as a CDS client signs one (iss, aud, iat, exp, a "
        "fresh jti; ES256/384/512 by the EC key's curve, RS384 for RSA). For tests and "
        "replaying fixtures against a service that is not in development mode.",
    )
    p.add_argument("--key", required=True, help="PEM private key (RSA, or EC P-256/384/521)")
    p.add_argument("--issuer", required=True, help="iss: the trusted-clients entry's issuer")
    p.add_argument(
        "--audience", action="append",
        help="aud: the URL called, e.g. https://cds.example.org/cds-services/lsb-order-select "
        "(repeatable; default: every endpoint under --public-url)",
    )
    p.add_argument(
        "--public-url", default="http://127.0.0.1:8080",
        help="the service's CDS_PUBLIC_URL, for the default aud (default: %(default)s)",
    )
    p.add_argument("--kid", help="the key's kid (default: its RFC 7638 thumbprint)")
    p.add_argument(
        "--lifetime", type=int, help="seconds until exp (default: 300, tokens.LIFETIME_S)"
    )
    p.set_defaults(func=token)
    p = sub.add_parser(
        "jwk",
        help="print the public JWK of a PEM key, for a trusted-clients file",
        description="Print the public half of a PEM key (private or public; RSA or EC) as "
        "the JWK a trusted-clients file's jwks.keys takes, with kid, alg and use.",
    )
    p.add_argument("pem", help="PEM key file")
    p.add_argument("--kid", help="the key's kid (default: its RFC 7638 thumbprint)")
    p.add_argument("--set", action="store_true", help='print a JWK Set: {"keys": [...]}')
    p.set_defaults(func=jwk)

    db_url_help = "database URL (default: CDS_DATABASE_URL, else SQLite in the instance folder)"
    p = sub.add_parser("db", help="the service database")
    db = p.add_subparsers(dest="db_command", required=True)
    q = db.add_parser("upgrade", help="apply the schema migrations (Alembic)")
    q.add_argument("--database-url", help=db_url_help)
    q.add_argument("--revision", default="head")
    q.set_defaults(func=db_upgrade)
    q = db.add_parser("current", help="print the schema revision; exit 1 if not at head")
    q.add_argument("--database-url", help=db_url_help)
    q.set_defaults(func=db_current)

    p = sub.add_parser("protocol", help="the clinic protocol (CDS_LOCAL_PROTOCOL)")
    pr = p.add_subparsers(dest="protocol_command", required=True)
    q = pr.add_parser("check", help="check a protocol file without starting the service")
    q.add_argument("file", help="the protocol's YAML file")
    q.set_defaults(func=protocol_check)

    p = sub.add_parser("feedback", help="clinicians' feedback on cards")
    fb = p.add_subparsers(dest="feedback_command", required=True)
    q = fb.add_parser("report", help="acceptance and override rates per card kind, and reasons")
    q.add_argument("--database-url", help=db_url_help)
    q.add_argument("--tenant", help="only cards issued to this tenant (trusted-clients label)")
    q.add_argument(
        "--since", type=utc_date, help="only cards issued since this date (ISO 8601, UTC)"
    )
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(func=feedback_report)
    q = fb.add_parser(
        "purge",
        help="remove old comments, and older feedback and issued-card rows (one transaction)",
    )
    q.add_argument("--database-url", help=db_url_help)
    q.add_argument(
        "--comment-days", type=int, metavar="N",
        help="remove comments stored more than N days ago "
        "(default: CDS_FEEDBACK_RETENTION_DAYS, else 90)",
    )
    q.add_argument(
        "--record-days", type=int, metavar="N",
        help="remove feedback and issued-card rows stored more than N days ago "
        "(default: CDS_FEEDBACK_RECORD_RETENTION_DAYS, else 730)",
    )
    q.add_argument("--json", action="store_true", help="print the counts as JSON")
    q.set_defaults(func=feedback_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # inside the try: a pipe closed early fails here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (`cds-service replay ... | head`): stop quietly, as `cat` does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command ended by the pipe
    except Exception as exc:
        # Imported only now: `serve` makes the standard library cooperative before SQLAlchemy.
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, DBAPIError):
            raise
        # A database that cannot be reached or logged into: one line, as for any setting that
        # stops a command, never a traceback (and never the password).
        from cds_service.db import database_problem

        print(f"cds-service: {database_problem(exc, _database_url(args))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
