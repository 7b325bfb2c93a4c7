"""The ``sprechzimmer`` command: run the service and administer it.

Every command reads the same settings as the server (environment / ``.env``),
brings the schema up to date, and reports errors as one sentence on stderr
with exit code 2 (configuration) or 1 (anything else). Secrets that are
created here (passwords, API keys, invite tokens) are printed once and never
stored in clear.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
from collections.abc import Callable, Sequence

from . import accounts
from .config import ConfigError, Settings, load_settings, private_directory
from .errors import GroupSessionsOff, TooManySeats
from .sessions import create_session
from .store import Store, TherapistInfo
from .tokens import digest, new_api_key

DEMO_CODE = "demo"


class CliError(Exception):
    """A sentence for the operator."""


def _store(settings: Settings) -> Store:
    store = Store.from_url(settings.effective_database_url)
    store.migrate()
    return store


def _read_password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        raise CliError("pass the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < accounts.MIN_PASSWORD:
        raise CliError(f"the password must have at least {accounts.MIN_PASSWORD} characters")
    return password


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- commands -----------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from .app import create_app
    from .logsetup import setup_logging
    from .serve import serve

    setup_logging(settings.log_level)
    store = _store(settings)
    if args.demo:
        password = _ensure_demo(store)
        print(
            f"\n  sprechzimmer is running on {settings.public_url}\n"
            f"  Demo therapist login:  code {DEMO_CODE!r}  password {password!r}\n"
            f"  (Demo-Zugang: Kennung {DEMO_CODE!r}, Passwort {password!r})\n",
            flush=True,
        )
    serve(create_app(settings, store), settings, args.host, args.port)
    return 0


def _ensure_demo(store: Store) -> str:
    password = secrets.token_urlsafe(12)
    existing = store.therapist_by_code(DEMO_CODE)
    if existing is None:
        store.add_therapist(DEMO_CODE, accounts.hash_password(password), _now())
    else:
        store.set_password_hash(existing.id, accounts.hash_password(password))
        store.set_disabled(DEMO_CODE, False)
    return password


def cmd_therapist_add(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    code = args.code
    if not (1 <= len(code) <= 64) or not code.isprintable() or code != code.strip():
        raise CliError("the code must be 1 to 64 printable characters without outer spaces")
    if store.therapist_by_code(code) is not None:
        raise CliError(f"a therapist with the code {code!r} exists already")
    store.add_therapist(code, accounts.hash_password(_read_password(args)), _now())
    print(f"therapist {code!r} added")
    return 0


def cmd_therapist_passwd(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    therapist = store.therapist_by_code(args.code)
    if therapist is None:
        raise CliError(f"no therapist with the code {args.code!r}")
    store.set_password_hash(therapist.id, accounts.hash_password(_read_password(args)))
    print(f"password of {args.code!r} changed")
    return 0


def _set_disabled(disabled: bool) -> Callable[[argparse.Namespace, Settings], int]:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        if not _store(settings).set_disabled(args.code, disabled):
            raise CliError(f"no therapist with the code {args.code!r}")
        print(f"therapist {args.code!r} {'disabled' if disabled else 'enabled'}")
        return 0

    return run


def cmd_therapist_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = _store(settings).list_therapists()
    if args.json:
        print(
            json.dumps(
                [
                    {"code": c, "disabled": d, "created_at": _iso(t), "api_keys": k}
                    for c, d, t, k in rows
                ]
            )
        )
    else:
        for code, disabled, created, keys in rows:
            state = "disabled" if disabled else "active"
            print(f"{code}\t{state}\tcreated {_iso(created)}\t{keys} API key(s)")
    return 0


def cmd_apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    key = new_api_key()
    if not _store(settings).add_api_key_hash(args.code, digest(key)):
        raise CliError(f"no therapist with the code {args.code!r}")
    print(key)
    print("Store this key now; it cannot be shown again.", file=sys.stderr)
    return 0


def cmd_apikey_revoke(args: argparse.Namespace, settings: Settings) -> int:
    if not _store(settings).clear_api_keys(args.code):
        raise CliError(f"no therapist with the code {args.code!r}")
    print(f"all API keys of {args.code!r} revoked")
    return 0


def cmd_session_create(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    therapist = store.therapist_by_code(args.therapist)
    if therapist is None:
        raise CliError(f"no therapist with the code {args.therapist!r}")
    if therapist.disabled:
        raise CliError(f"the therapist {args.therapist!r} is disabled")
    client_id = args.client_id.strip()
    if not (1 <= len(client_id) <= 64) or not client_id.isprintable():
        raise CliError("the client ID must be 1 to 64 printable characters")
    try:
        invite = create_session(store, settings, therapist.id, client_id, _now(), args.seats)
    except (TooManySeats, GroupSessionsOff) as error:
        raise CliError(error.say().en) from None
    result: dict[str, object] = {
        "session_id": invite.session_id,
        "therapist_url": invite.therapist_url,
        "client_url": invite.client_url,
        "expires_at": _iso(invite.expires_at),
    }
    if args.seats > 1:
        result["client_urls"] = list(invite.client_urls)
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name}: {value}")
    return 0


def cmd_session_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    therapist = store.therapist_by_code(args.therapist)
    if therapist is None:
        raise CliError(f"no therapist with the code {args.therapist!r}")
    sessions = store.list_sessions(therapist.id)
    rows = [
        {
            "session_id": s.id,
            "client_id": s.client_id,
            "created_at": _iso(s.created_at),
            "expires_at": _iso(s.expires_at),
            "state": s.state.value,
        }
        for s in sessions
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print("\t".join(str(v) for v in r.values()))
    return 0


def cmd_session_revoke(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    if store.get_session(args.session_id) is None:
        raise CliError(f"no session {args.session_id!r}")
    store.revoke_session(args.session_id)
    # A running server closes the session's sockets at their next message or
    # heartbeat check; revoking through the API closes them at once.
    print(f"session {args.session_id} revoked")
    return 0


def cmd_session_events(args: argparse.Namespace, settings: Settings) -> int:
    events = _store(settings).events_of(args.session_id)
    rows = [{"role": e.role.value, "kind": e.kind.value, "at": _iso(e.at)} for e in events]
    if args.json:
        print(json.dumps(rows))
    else:
        for r in rows:
            print(f"{r['at']}\t{r['role']}\t{r['kind']}")
    return 0


def cmd_turn_config(args: argparse.Namespace, settings: Settings) -> int:
    from .turn import CoturnOptions, coturn_config

    secret = settings.turn_secret
    if len(secret) < 32:
        raise CliError(
            "set SPRECHZIMMER_TURN_SECRET (at least 32 characters, e.g. from "
            "`openssl rand -base64 32`) first: coturn and the server must share it"
        )
    print(
        coturn_config(
            CoturnOptions(
                secret=secret,
                realm=settings.turn_realm,
                listening_ips=tuple(args.listening_ip),
                relay_ips=tuple(args.relay_ip),
                external_ip=args.external_ip,
                port=args.port,
                tls_port=args.tls_port,
                cert=args.cert,
                pkey=args.pkey,
                max_bps=args.max_bps,
                user_quota=args.user_quota,
                total_quota=args.total_quota,
                allowed_peer_ips=tuple(args.allowed_peer_ip),
            )
        ),
        end="",
    )
    return 0


def cmd_sfu_config(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from .sfu import JanusOptions, SfuConfigError, parse_port_range, write_janus_config

    if len(settings.sfu_secret) < 32:
        raise CliError(
            "set SPRECHZIMMER_SFU_SECRET (at least 32 characters, e.g. from "
            "`openssl rand -base64 32`) first: the SFU and the server share it"
        )
    try:
        written = write_janus_config(
            JanusOptions(
                secret=settings.sfu_secret,
                ice_ip=args.ice_ip,
                public_ip=args.public_ip,
                rtp_ports=parse_port_range(args.rtp_ports),
                module_dir=args.janus_modules,
            ),
            Path(args.folder),
        )
    except SfuConfigError as error:
        raise CliError(str(error)) from None
    for path in written:
        print(path)
    print(f"start it with: janus -F {Path(args.folder).resolve()} -C {written[0]}", file=sys.stderr)
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from .retention import purge_once

    counts = purge_once(_store(settings), settings, _now())
    print(f"{counts.tokens} expired token(s) deleted")
    print(
        f"{counts.sessions} session(s) with {counts.events} event(s) idle for more than "
        f"{settings.metadata_retention_days} days deleted"
    )
    print(
        f"{counts.trimmed_events} event(s) older than {settings.metadata_retention_days} days "
        f"of {counts.trimmed} session(s) in use deleted"
    )
    print(f"{counts.archived} billing line(s) kept in their place")
    print(
        f"{counts.billing_lines} billing line(s) older than "
        f"{settings.billing_retention_days} days deleted"
    )
    print(
        f"{counts.quality_samples} quality sample(s) older than "
        f"{settings.quality_retention_days} days deleted"
    )
    return 0


def _therapist(store: Store, code: str) -> TherapistInfo:
    therapist = store.therapist_by_code(code)
    if therapist is None:
        raise CliError(f"no therapist with the code {code!r}")
    return therapist


def cmd_billing_export(args: argparse.Namespace, settings: Settings) -> int:
    from . import billing

    try:
        month = billing.Month.parse(args.month)
    except ValueError as error:
        raise CliError(str(error)) from None
    store = _store(settings)
    therapist = _therapist(store, args.therapist)
    lines = billing.therapist_month(
        store, therapist.id, month, settings.zone, settings.reconnect_tolerance
    )
    if args.csv:
        sys.stdout.write(billing.to_csv(lines, args.lang))
        return 0
    for line in lines:
        print(f"{line.date}\t{line.session_id}\t{line.client_id}\t{line.minutes} min")
    seconds = sum(line.seconds for line in lines)
    print(
        f"{len(lines)} session(s) in {month} ({settings.practice_timezone}): "
        f"{seconds / 60:.2f} min ({seconds} s) billable"
    )
    return 0


def cmd_privacy_export(args: argparse.Namespace, settings: Settings) -> int:
    from . import privacy

    store = _store(settings)
    therapist = _therapist(store, args.therapist)
    print(json.dumps(privacy.export(store, therapist, _now(), args.client_id), indent=2))
    return 0


def cmd_privacy_delete(args: argparse.Namespace, settings: Settings) -> int:
    from . import privacy

    store = _store(settings)
    therapist = _therapist(store, args.therapist)
    if args.client_id is None:
        if not args.therapist_account:
            raise CliError(
                "name the client with --client-id, or pass --therapist-account to delete "
                "the therapist's account with all their sessions"
            )
        deleted = privacy.delete_therapist(store, therapist)
    else:
        if args.keep_billing_totals:
            totals = privacy.billing_totals(
                store, therapist, args.client_id, settings.zone, settings.reconnect_tolerance
            )
            # Printed for the operator to keep outside; the database keeps nothing.
            print(json.dumps({"billable_seconds_by_month": totals}))
        deleted = privacy.delete_client(store, therapist, args.client_id)
    print(
        f"deleted {deleted.sessions} session(s), {deleted.events} event(s), "
        f"{deleted.tokens} token(s), {deleted.billing_lines} billing line(s), "
        f"{deleted.therapists} therapist account(s)",
        file=sys.stderr if args.keep_billing_totals else sys.stdout,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    _store(settings)
    print("database schema is up to date")
    return 0


# --- parser -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sprechzimmer",
        description="Self-hostable video consultation for psychotherapists. "
        "Settings come from SPRECHZIMMER_* environment variables or .env.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="create (or reset) the demo therapist and print its login",
    )
    serve.set_defaults(run=cmd_serve)

    therapist = sub.add_parser("therapist", help="therapist accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = therapist.add_parser("add", help="add a therapist account")
    add.add_argument("code", help="the therapist's login code")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(run=cmd_therapist_add)
    passwd = therapist.add_parser("passwd", help="set a therapist's password")
    passwd.add_argument("code")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(run=cmd_therapist_passwd)
    for name, flag in (("disable", True), ("enable", False)):
        action = therapist.add_parser(name, help=f"{name} a therapist account")
        action.add_argument("code")
        action.set_defaults(run=_set_disabled(flag))
    listing = therapist.add_parser("list", help="list therapist accounts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=cmd_therapist_list)

    apikey = sub.add_parser("apikey", help="API keys for practice software").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create_key = apikey.add_parser("create", help="create an API key (printed once)")
    create_key.add_argument("code", help="the therapist the key acts for")
    create_key.set_defaults(run=cmd_apikey_create)
    revoke_keys = apikey.add_parser("revoke", help="revoke all API keys of a therapist")
    revoke_keys.add_argument("code")
    revoke_keys.set_defaults(run=cmd_apikey_revoke)

    session = sub.add_parser("session", help="consultation sessions").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = session.add_parser("create", help="create a session and its invite links")
    create.add_argument("--therapist", required=True, help="the therapist's code")
    create.add_argument("--client-id", required=True, help="the client's pseudonym")
    create.add_argument(
        "--seats",
        type=int,
        default=1,
        help="client seats, each with its own link: 1 (default) to 8 "
        "(more than one needs SPRECHZIMMER_GROUP_SESSIONS)",
    )
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(run=cmd_session_create)
    slist = session.add_parser("list", help="list a therapist's sessions")
    slist.add_argument("--therapist", required=True)
    slist.add_argument("--json", action="store_true")
    slist.set_defaults(run=cmd_session_list)
    revoke = session.add_parser("revoke", help="revoke a session and its links")
    revoke.add_argument("session_id")
    revoke.set_defaults(run=cmd_session_revoke)
    events = session.add_parser("events", help="the billing events of a session")
    events.add_argument("session_id")
    events.add_argument("--json", action="store_true")
    events.set_defaults(run=cmd_session_events)

    turn = sub.add_parser(
        "turn-config",
        help="print a hardened turnserver.conf for coturn",
        description="Prints a complete coturn configuration that shares "
        "SPRECHZIMMER_TURN_SECRET with this server and refuses every special-purpose peer range.",
    )
    turn.add_argument("--listening-ip", action="append", default=[], metavar="IP")
    turn.add_argument("--relay-ip", action="append", default=[], metavar="IP")
    turn.add_argument("--external-ip", metavar="IP", help="public address behind NAT")
    turn.add_argument("--port", type=int, default=3478)
    turn.add_argument("--tls-port", type=int, default=5349, help="443 or 5349")
    turn.add_argument("--cert", help="TLS certificate chain (PEM)")
    turn.add_argument("--pkey", help="TLS private key (PEM)")
    turn.add_argument("--max-bps", type=int, default=3_000_000, help="bytes/s per session")
    turn.add_argument("--user-quota", type=int, default=12)
    turn.add_argument("--total-quota", type=int, default=1200)
    turn.add_argument(
        "--allowed-peer-ip",
        action="append",
        default=[],
        metavar="IP",
        help="exception from the denied ranges: the relay's own private address behind NAT",
    )
    turn.set_defaults(run=cmd_turn_config)

    sfu = sub.add_parser(
        "sfu-config",
        help="write a hardened Janus configuration for group sessions",
        description="Writes Janus's configuration into FOLDER: only the VideoRoom plugin and "
        "the HTTP transport, both APIs on loopback behind secrets derived from "
        "SPRECHZIMMER_SFU_SECRET, rooms only with the room key, no recording folder, no STUN "
        "server, warnings-only logging. `sprechzimmer audit --sfu-config FOLDER` checks it.",
    )
    sfu.add_argument("folder", metavar="FOLDER")
    sfu.add_argument("--ice-ip", required=True, metavar="IP", help="the SFU's own media address")
    sfu.add_argument("--public-ip", metavar="IP", help="public address in front of it (1:1 NAT)")
    sfu.add_argument("--rtp-ports", default="20000-20999", metavar="LOW-HIGH")
    sfu.add_argument(
        "--janus-modules", metavar="DIR", help="Janus's module folder (found if unset)"
    )
    sfu.set_defaults(run=cmd_sfu_config)

    purge = sub.add_parser(
        "purge",
        help="delete data past its retention now (the server also does it hourly)",
        description="Deletes expired invite tokens, sessions with their events idle for more "
        "than SPRECHZIMMER_METADATA_RETENTION_DAYS (keeping a billing line per month), "
        "billing lines older than SPRECHZIMMER_BILLING_RETENTION_DAYS, and quality samples "
        "older than SPRECHZIMMER_QUALITY_RETENTION_DAYS; prints what it deleted.",
    )
    purge.set_defaults(run=cmd_purge)

    bill = sub.add_parser("billing", help="billable time").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    export = bill.add_parser(
        "export",
        help="a therapist's billable time in one month",
        description="Billable time = both sides' media connected; months and dates in "
        "SPRECHZIMMER_PRACTICE_TIMEZONE.",
    )
    export.add_argument("--therapist", required=True, help="the therapist's code")
    export.add_argument("--month", required=True, help="YYYY-MM")
    export.add_argument("--csv", action="store_true", help="print CSV (one line per session)")
    export.add_argument(
        "--lang",
        choices=("de", "en"),
        default="de",
        help="CSV for German spreadsheets (';', decimal comma; default) or English ones",
    )
    export.set_defaults(run=cmd_billing_export)

    privacy = sub.add_parser("privacy", help="data-subject requests").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    pexport = privacy.add_parser(
        "export", help="print everything stored about a therapist or a client ID (JSON)"
    )
    pexport.add_argument("--therapist", required=True, help="the therapist's code")
    pexport.add_argument("--client-id", help="only this client ID of the therapist")
    pexport.set_defaults(run=cmd_privacy_export)
    pdelete = privacy.add_parser(
        "delete", help="delete a client ID's sessions, events and tokens (or a whole account)"
    )
    pdelete.add_argument("--therapist", required=True, help="the therapist's code")
    pdelete.add_argument("--client-id", help="the client ID whose data goes")
    pdelete.add_argument(
        "--keep-billing-totals",
        action="store_true",
        help="first print the client's billable seconds per month (JSON) to keep elsewhere",
    )
    pdelete.add_argument(
        "--therapist-account",
        action="store_true",
        help="without --client-id: delete the therapist's account and all their data",
    )
    pdelete.set_defaults(run=cmd_privacy_delete)

    db = sub.add_parser("db", help="database").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="apply schema migrations").set_defaults(run=cmd_db_upgrade)

    sub.add_parser("audit", help="check a deployment and print a pass/fail report", add_help=False)
    peer = sub.add_parser(
        "peer", help="join a session as a headless peer (synthetic media)", add_help=False
    )
    peer.add_argument("rest", nargs=argparse.REMAINDER)
    peer.set_defaults(run=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["peer"]:
        try:
            from .tools.peer import main as peer_main
        except ImportError as missing:
            # The server's own install leaves out aiortc and PyAV on purpose.
            print(
                f"sprechzimmer peer needs the optional extra 'peer' ({missing.name} is missing): "
                "pip install 'sprechzimmer[peer]'",
                file=sys.stderr,
            )
            return 2
        return peer_main(argv[1:])
    if argv[:1] == ["audit"]:
        from .tools.audit import main as audit_main

        return audit_main(argv[1:])
    args = build_parser().parse_args(argv)
    # Every file this process makes (the SQLite database and its journal, keys,
    # the embedded TURN relay's config) is for the service's user alone.
    os.umask(0o077)
    try:
        settings = load_settings()
        private_directory(settings.data_dir)
        code: int = args.run(args, settings)
        return code
    except ConfigError as error:
        print(f"sprechzimmer: {error}", file=sys.stderr)
        return 2
    except CliError as error:
        print(f"sprechzimmer: {error}.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
