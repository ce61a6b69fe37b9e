"""The `cds-service` command: serve the app, replay fixtures against a running service."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests


def serve(args: argparse.Namespace) -> int:
    """Runs the app under gunicorn, the production WSGI server."""
    from gunicorn.app.base import BaseApplication

    from cds_service import create_app

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("accesslog", "-")
            # The access log names paths only: no query strings, no bodies, no tokens.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')

        def load(self) -> Any:
            return create_app()

    Server().run()
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
            service = args.service or (
                "lsb-order-select" if body.get("hook") == "order-select" else "lsb-order-sign"
            )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
