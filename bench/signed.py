"""Signed calls, as a deployment receives them, against the unsigned development-mode calls
`make bench` measures.

Outside development mode every call carries a JWT: the service checks its signature against
the EHR's key and records its `jti` (a database write) so a replay is refused. Fixture 01 at 8
connections, 2 workers, one service per mode in the same run: development mode (no token),
then signed with ES384 and with RS384 (the two algorithms CDS Hooks names; each token sent
once: a token sent twice is refused as a replay).

    python bench/signed.py [--seconds 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from support import ROOT, WORKERS, Load, fixture_path, load_note, service_env, service_path, wrk

from cds_service.testing import served

sys.path.insert(0, str(ROOT / "tests"))
from jwt_helpers import PUBLIC_URL, TestIssuer, write_trusted_clients

CONNECTIONS = 8
TOKENS_PER_SECOND = 3000  # more than 2 workers answer: no token is sent twice


def row(label: str, load: Load, base: Load) -> str:
    return (
        f"| {label} | {load.rate:,.0f} req/s | p50 {load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} "
        f"ms | {load.rate / base.rate:.2f}x | {load.failed} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    body = fixture_path("01")
    audience = PUBLIC_URL + service_path(body)
    issuers = {alg: TestIssuer(issuer=f"https://ehr-{alg.lower()}.test.invalid", alg=alg,
                               kid=f"bench-{alg}") for alg in ("ES384", "RS384")}
    print(f"Signed calls ({load_note()})")
    results: dict[str, Load] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with served(service_env(folder), workers=WORKERS) as url:
            wrk(url, [body], CONNECTIONS, 2)
            results["development mode, no token"] = wrk(url, [body], CONNECTIONS, args.seconds)
        trusted = write_trusted_clients(
            folder / "trusted-clients.yaml", *(i.entry() for i in issuers.values())
        )
        signed_env = {
            "CDS_DATABASE_URL": f"sqlite:///{folder}/signed.sqlite3",
            "CDS_SANDBOX": "0",
            "CDS_TRUSTED_CLIENTS": str(trusted),
            "CDS_PUBLIC_URL": PUBLIC_URL,
            "CDS_PATIENT_KEY_SECRET": "bench-only-secret-0123456789abcdef0123456789",
        }
        with served(signed_env, workers=WORKERS) as url:
            for alg, issuer in issuers.items():
                tokens = folder / f"{alg}.tokens"
                count = TOKENS_PER_SECOND * (args.seconds + 2)
                tokens.write_text("\n".join(issuer.sign(audience) for _ in range(count)) + "\n")
                warm = folder / f"{alg}.warm"
                warm.write_text("\n".join(issuer.sign(audience) for _ in range(2000)) + "\n")
                wrk(url, [body], CONNECTIONS, 1, tokens=warm)
                results[f"signed {alg}"] = wrk(url, [body], CONNECTIONS, args.seconds,
                                               tokens=tokens)
    base = results["development mode, no token"]
    print(f"\nfixture 01, {CONNECTIONS} connections, gunicorn gevent x{WORKERS}, "
          f"{args.seconds} s each\n")
    print("| calls | throughput | latency | vs development mode | failed |")
    print("| --- | --- | --- | --- | --- |")
    for label, load in results.items():
        print(row(label, load, base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
