"""`python -m service serve|migrate|maintain|token`: the service's command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from service.settings import SettingsError, load_settings

# X-Forwarded-For is believed only from these peers: the load balancer's nodes sit in the VPC's
# private ranges, so the client address it appends is used for rate limits and logs, while a value
# a client wrote itself is not. FORWARDED_ALLOW_IPS (uvicorn's own variable) overrides it.
TRUSTED_PROXY_NETWORKS = "127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="bring the database schema to the newest revision")
    commands.add_parser(
        "maintain",
        help="drop events past EVENT_RETENTION_DAYS, create the next months' partitions",
    )
    token = commands.add_parser("token", help="print a token signed with the local development key")
    token.add_argument("subject")
    token.add_argument("--admin", action="store_true")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    return parser


def _serve(host: str, port: int, workers: int) -> int:
    import uvicorn

    from service.metrics import prepare_multiprocess_directory

    # Several workers share one metrics directory, so a scrape sums them all.
    prepare_multiprocess_directory(workers)

    # Each worker builds its own app (engine, pool, caches) through the factory.
    uvicorn.run(
        "service.app:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", TRUSTED_PROXY_NETWORKS),
        timeout_graceful_shutdown=10,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # Only the server reads (and requires) the serving settings: the jobs run with the
        # database, logging and retention settings alone.
        settings = load_settings(serving=args.command == "serve")
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    from service.logs import configure_logging

    configure_logging(settings.log_level)
    if args.command == "serve":
        if args.workers < 1:
            print("--workers must be at least 1", file=sys.stderr)
            return 2
        return _serve(args.host, args.port, args.workers)
    if args.command == "migrate":
        import logging

        from service.grants import GrantError
        from service.migrate import run

        try:
            revision = run(settings)
        except GrantError as error:
            print(f"migrate: {error}", file=sys.stderr)
            return 1
        fields = {"revision": revision, "database": settings.redacted_database_url()}
        if settings.db_app_role is not None:
            fields["app_role"] = settings.db_app_role
        logging.getLogger("service.migrate").info(
            "database schema is current", extra={"fields": fields}
        )
        return 0
    if args.command == "maintain":
        from service.maintain import run as run_maintenance

        for line in run_maintenance(settings).lines():
            print(line, flush=True)
        return 0
    if settings.environment != "local":
        print(
            f"refusing to mint a development token with ENVIRONMENT={settings.environment}",
            file=sys.stderr,
        )
        return 2
    from service.auth import mint_local_token

    try:
        print(
            mint_local_token(
                args.subject,
                args.admin,
                args.ttl,
                settings.data_dir,
                environment=settings.environment,
            )
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
