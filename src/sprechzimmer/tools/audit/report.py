"""The whole audit: every check in report order, the text and JSON reports, the command.

``main`` is the edge that reads the settings, the ``turnserver.conf`` and the clock and
prints; ``run_audit`` is given the network as a ``Fetch``, the renderers the time as ``now``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ... import legal
from ...config import ENV_PREFIX, ConfigError, Settings, load_settings
from ...sfu import derive_secrets
from ...sfuapi import PostJson, http_get_json, http_post_json
from . import kbv
from .database import check_database
from .policy import check_e2ee, check_ice, check_retention
from .results import Check, Status, check
from .service import Fetch, check_endpoints, http_fetch
from .sfuconf import check_sfu_config, check_sfu_live, read_sfu_folder
from .turnconf import check_turn_config
from .web import check_tls

# A setting the server refuses to start with is the failure of the check it belongs to.
_CONFIG_CHECKS = {
    "ICE_SERVERS": "ice-regions",
    "ALLOWED_REGIONS": "ice-regions",
    "QUALITY_RETENTION_DAYS": "retention",
    "TURN_SECRET": "turn-secret-match",
    "E2EE_REQUIRED": "e2ee",
    "PUBLIC_URL": "tls",
    "SFU_SECRET": "sfu-api",
    "SFU_URL": "sfu-live",
}

SfuFolder = tuple[dict[str, str], dict[str, list[str]]]
"""The SFU's configuration files by name and its module folders' listings."""


def config_failure(error: ConfigError) -> Check:
    message = str(error)
    name = message.split(" ", 1)[0].removeprefix(ENV_PREFIX)
    return check(_CONFIG_CHECKS.get(name, "settings"), Status.FAIL, message)


def run_audit(
    settings: Settings | ConfigError,
    *,
    url: str | None,
    turn_config: str | None,
    fetch: Fetch = http_fetch,
    database: bool = True,
    sfu_folder: SfuFolder | None = None,
    sfu_api: tuple[PostJson, Callable[[str], dict[str, Any]]] = (http_post_json, http_get_json),
) -> list[Check]:
    """Every check, in report order. The running SFU is checked when the settings name
    its secret; its configuration when ``sfu_folder`` is given."""
    out: list[Check] = []
    if isinstance(settings, ConfigError):
        out.append(config_failure(settings))
        loaded = None
    else:
        loaded = settings
        url = url or settings.public_url
    if url:
        out.append(check_tls(url))
        out += check_endpoints(url, fetch)
    else:
        out.append(
            check("tls", Status.FAIL, "No --url given and the settings did not load: not checked.")
        )
    if turn_config is not None:
        out += check_turn_config(turn_config, None if loaded is None else loaded.turn_secret)
    secrets = (
        derive_secrets(loaded.sfu_secret) if loaded is not None and loaded.sfu_secret else None
    )
    if sfu_folder is not None:
        out += check_sfu_config(*sfu_folder, secrets)
    if loaded is not None and secrets is not None:
        out.append(check_sfu_live(loaded.sfu_url, secrets, *sfu_api))
    if loaded is not None:
        out += check_ice(loaded)
        out.append(check_retention(loaded.quality_retention_days))
        out.append(check_e2ee(loaded.e2ee_required))
        if database:
            out.append(check_database(loaded.effective_database_url))
    return out


def render_text(checks: Sequence[Check], url: str | None, now: dt.datetime) -> str:
    counts = {s: sum(c.status is s for c in checks) for s in Status}
    passed = counts[Status.FAIL] == 0
    width = max(len(c.id) for c in checks) if checks else 10
    lines = [
        "sprechzimmer — Datenschutz-Prüfbericht (data protection audit report)",
        f"Dienst (service): {url or '-'}",
        f"Zeitpunkt (time): {now.astimezone(dt.UTC).isoformat(timespec='seconds')}",
        "",
        f"{'Ergebnis':<8}  {'Prüfung (check)':<{width}}  Begründung (reason)",
        f"{'(result)':<8}  {'':<{width}}",
        "-" * 100,
    ]
    for c in checks:
        lines.append(f"{c.status.value:<8}  {c.id:<{width}}  {c.title}")
        lines.append(f"{'':<8}  {'':<{width}}  {c.reason}")
    lines += [
        "-" * 100,
        f"Gesamt (total): {counts[Status.PASS]} PASS, {counts[Status.WARN]} WARN, "
        f"{counts[Status.FAIL]} FAIL — "
        + ("bestanden (passed)" if passed else "nicht bestanden (failed)"),
    ]
    return "\n".join(lines) + "\n"


def render_json(checks: Sequence[Check], url: str | None, now: dt.datetime) -> str:
    return json.dumps(
        {
            "url": url,
            "checked_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "passed": all(c.status is not Status.FAIL for c in checks),
            "checks": [
                {"id": c.id, "title": c.title, "status": c.status.value, "reason": c.reason}
                for c in checks
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sprechzimmer audit",
        description="Check this deployment's settings, its running service, its TURN "
        "configuration and its database, and print a pass/fail report.",
    )
    parser.add_argument(
        "--url", help=f"the running service (default: {ENV_PREFIX}PUBLIC_URL)", metavar="URL"
    )
    parser.add_argument(
        "--turn-config", type=Path, metavar="PATH", help="a turnserver.conf to check"
    )
    parser.add_argument(
        "--sfu-config",
        type=Path,
        metavar="FOLDER",
        help="the SFU's (Janus) configuration folder to check, as `sprechzimmer sfu-config` "
        "wrote it; the running SFU is checked whenever SPRECHZIMMER_SFU_SECRET is set",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--strict", action="store_true", help="a WARN fails the audit too")
    parser.add_argument(
        "--no-database", action="store_true", help="do not inspect the database schema"
    )
    parser.add_argument(
        "--kbv",
        action="store_true",
        help="print the German report on KBV Anlage 31b for a certifier (requirements, "
        "relay TOMs, crypto profile, record of processing); fails when the configuration "
        "does not meet a requirement",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, fetch: Fetch = http_fetch) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    turn_config = None
    if args.turn_config is not None:
        try:
            turn_config = args.turn_config.read_text()
        except OSError as error:
            print(f"sprechzimmer audit: cannot read {args.turn_config}: {error}.", file=sys.stderr)
            return 2
    sfu_folder = None
    if args.sfu_config is not None:
        if not (args.sfu_config / "janus.jcfg").is_file():
            print(f"sprechzimmer audit: {args.sfu_config} holds no janus.jcfg.", file=sys.stderr)
            return 2
        try:
            sfu_folder = read_sfu_folder(args.sfu_config)
        except OSError as error:
            print(f"sprechzimmer audit: cannot read {args.sfu_config}: {error}.", file=sys.stderr)
            return 2
    settings: Settings | ConfigError
    try:
        settings = load_settings()
    except ConfigError as error:
        settings = error
    checks = run_audit(
        settings,
        url=args.url,
        turn_config=turn_config,
        fetch=fetch,
        database=not args.no_database,
        sfu_folder=sfu_folder,
    )
    url = args.url or (None if isinstance(settings, ConfigError) else settings.public_url)
    now = dt.datetime.now(dt.UTC)
    if args.kbv:
        return _kbv(settings, checks, url, now, as_json=args.json, strict=args.strict)
    print(render_json(checks, url, now) if args.json else render_text(checks, url, now), end="")
    if args.json:
        print()
    failing = {Status.FAIL, Status.WARN} if args.strict else {Status.FAIL}
    return 1 if any(c.status in failing for c in checks) else 0


def _kbv(
    settings: Settings | ConfigError,
    checks: Sequence[Check],
    url: str | None,
    now: dt.datetime,
    *,
    as_json: bool,
    strict: bool,
) -> int:
    """``--kbv``: the certifier's report; exit 1 when a requirement or a check fails."""
    missing = [] if isinstance(settings, ConfigError) else legal.missing(settings)
    known = kbv.facts(settings, missing)
    reqs = kbv.requirements(known, checks)
    render = kbv.render_kbv_json if as_json else kbv.render_kbv_text
    print(render(reqs, known, checks, url, now), end="\n" if as_json else "")
    failing = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
    unmet = any(r.status is Status.FAIL for r in reqs)
    return 1 if unmet or any(c.status in failing for c in checks) else 0
