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
from typing import Any

import requests


def serve(args: argparse.Namespace) -> int:
    """Runs the app under gunicorn, the production WSGI server."""
    from gunicorn.app.base import BaseApplication

    from cds_service import create_app
    from cds_service.config import ConfigError

    # The service's own lines beside gunicorn's, on stderr. None names a patient or holds a token.
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s] [%(levelname)s] %(name)s: %(message)s"
    )
    # Built once, before gunicorn starts: a wrong configuration stops here with a message,
    # migrations run once, and workers inherit the loaded knowledge.
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"cds-service: cannot start: {exc}", file=sys.stderr)
        return 2
    app.extensions["cds_db"].dispose()  # each worker opens its own connections after the fork

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("preload_app", True)
            self.cfg.set("control_socket_disable", True)  # unused; one shared path per user
            self.cfg.set("accesslog", "-")
            # The access log names paths only: no query strings, no bodies, no tokens.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')

        def load(self) -> Any:
            return app

    Server().run()
    return 0


def _engine(args: argparse.Namespace) -> Any:
    from cds_service.db import default_database_url, make_engine

    return make_engine(
        args.database_url or os.environ.get("CDS_DATABASE_URL") or default_database_url()
    )


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
    """Posts fixture requests to a running service and prints the cards readably."""
    paths: list[Path] = []
    for name in args.fixtures:
        path = Path(name)
        paths += sorted(path.glob("*.json")) if path.is_dir() else [path]
    failures = 0
    with requests.Session() as session:
        for path in paths:
            body = json.loads(path.read_text(encoding="utf-8"))
            service = args.service or service_for_hook(body.get("hook"))
            url = f"{args.url.rstrip('/')}/cds-services/{service}"
            headers = {"Content-Type": "application/json"}
            if args.token:
                headers["Authorization"] = f"Bearer {args.token}"
            response = session.post(url, json=body, headers=headers, timeout=args.timeout)
            elapsed = response.elapsed.total_seconds() * 1000
            print(f"== {path.name} -> {service}: HTTP {response.status_code} ({elapsed:.0f} ms)")
            if not response.ok:
                failures += 1
                print(json.dumps(response.json(), indent=2) if response.content else "")
                continue
            cards = response.json().get("cards", [])
            print("(no cards)" if not cards else "\n\n".join(format_card(c) for c in cards))
            print()
    return 1 if failures and args.strict else 0


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
        restart = f"{hold.restart.value} h" if hold.restart else "not set"
        print(f"  {kn.drug_by_id[drug_id].name}: hold {hold.before[0].value} h, restart {restart}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="serve the CDS Hooks API with gunicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.set_defaults(func=serve)
    p = sub.add_parser("replay", help="post fixture requests to a running service")
    p.add_argument("url", help="base URL of the service, e.g. http://127.0.0.1:8080")
    p.add_argument("fixtures", nargs="+", help="request files or folders of them")
    p.add_argument("--service", help="service id (default: from each request's hook)")
    p.add_argument("--token", help="a bearer JWT, for a service that is not in dev mode")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--strict", action="store_true", help="exit 1 if any call fails")
    p.set_defaults(func=replay)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
