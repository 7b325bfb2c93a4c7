"""``sprechzimmer audit``: passes on a hardened deployment, names each problem of a broken one.

Most tests run the whole command in-process (``audit.main`` with a fetcher
backed by Starlette's test client), on the real app or on a tiny fake one
serving exactly the flaw under test. One test runs the real server and the real
command in a network namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from harness.netns import netns_available, require_or_skip
from harness.server import CLI, running_server
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

import sprechzimmer
from sprechzimmer import datafields, legal
from sprechzimmer.app import create_app, security_headers
from sprechzimmer.config import load_settings
from sprechzimmer.store import Store
from sprechzimmer.tools import audit
from sprechzimmer.tools.audit import kbv
from sprechzimmer.tools.audit.service import references
from sprechzimmer.turn import CoturnOptions, coturn_config

URL = "https://video.example.de"
SECRET = secrets.token_urlsafe(32)
ICE_DE = [
    {
        "urls": ["turn:turn.example.de:3478?transport=udp", "turns:turn.example.de:443"],
        "region": "DE",
        "auth": "rest",
    }
]

Run = Callable[..., tuple[int, dict[str, Any]]]


def _fetcher(client: TestClient) -> audit.Fetch:
    def fetch(url: str) -> audit.Fetched:
        response = client.get(url, follow_redirects=False)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return audit.Fetched(response.status_code, headers, response.content)

    return fetch


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A hardened deployment's environment, with its database migrated."""
    for name in list(os.environ):
        if name.startswith("SPRECHZIMMER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    values = {
        "SPRECHZIMMER_DATA_DIR": str(tmp_path / "data"),
        "SPRECHZIMMER_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "SPRECHZIMMER_PUBLIC_URL": URL,
        "SPRECHZIMMER_SECRET_KEY": "k" * 40,
        "SPRECHZIMMER_TURN_SECRET": SECRET,
        "SPRECHZIMMER_ICE_SERVERS": json.dumps(ICE_DE),
        "SPRECHZIMMER_QUALITY_RETENTION_DAYS": "30",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    store = Store.from_url(values["SPRECHZIMMER_DATABASE_URL"])
    store.migrate()
    store.close()
    return values


@pytest.fixture
def real_app(env: dict[str, str]) -> Iterator[TestClient]:
    """The real service for the hardened settings (built before any test breaks them)."""
    with TestClient(create_app(load_settings()), base_url=URL) as client:
        yield client


@pytest.fixture
def turn_conf(tmp_path: Path) -> Path:
    path = tmp_path / "turnserver.conf"
    path.write_text(coturn_config(CoturnOptions(secret=SECRET, listening_ips=("192.0.2.10",))))
    return path


@pytest.fixture
def run(real_app: TestClient, turn_conf: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``sprechzimmer audit --json --turn-config …`` against the real app (or ``fetch``)."""

    def go(*args: str, fetch: audit.Fetch | None = None) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        argv = ["--json", "--turn-config", str(turn_conf), *args]
        code = audit.main(argv, fetch=fetch or _fetcher(real_app))
        report: dict[str, Any] = json.loads(capsys.readouterr().out)
        return code, report

    return go


def _by_id(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {c["id"]: c for c in report["checks"]}


def _failed(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["reason"] for c in report["checks"] if c["status"] == "FAIL"}


@contextlib.contextmanager
def _fake_app(
    files: Mapping[str, tuple[str, str]], headers: Mapping[str, str]
) -> Iterator[TestClient]:
    """A tiny service serving ``files`` (path → (content type, body)) with ``headers``."""

    async def serve(request: Request) -> Response:
        found = files.get(request.url.path)
        if found is None:
            return Response("not found", 404, headers=dict(headers))
        return Response(found[1], 200, headers=dict(headers), media_type=found[0])

    app = Starlette(routes=[Route(path, serve) for path in files])
    with TestClient(app, base_url=URL) as client:
        yield client


FAKE_PAGES = {
    "/": ("text/html", '<script type="module" src="/static/a.js"></script>'),
    "/dashboard": ("text/html", "<p>dashboard</p>"),
    "/call": ("text/html", '<link rel="stylesheet" href="/static/app.css">'),
    "/nutzungsbedingungen": ("text/html", "<p>Nutzungsbedingungen</p>"),
    "/api/v1/openapi.json": ("application/json", "{}"),
    "/static/a.js": ("text/javascript", "import { b } from './b.js';\nexport const a = b;\n"),
    "/static/b.js": ("text/javascript", "export const b = 1;\n"),
    "/static/app.css": ("text/css", "body { color: black; }"),
}


# --- the whole command -----------------------------------------------------------------


def test_hardened_configuration_passes(run: Run) -> None:
    code, report = run()
    assert _failed(report) == {}
    assert code == 0
    assert report["passed"] is True
    assert {c["status"] for c in report["checks"]} == {"PASS"}
    assert set(_by_id(report)) == {
        "tls",
        "headers /",
        "headers /call",
        "headers /nutzungsbedingungen",
        "headers /api/v1/openapi.json",
        "third-party",
        "turn-auth",
        "turn-secret",
        "turn-secret-match",
        "turn-denied-peers",
        "turn-hardening",
        "ice-regions",
        "ice-public-stun",
        "ice-regions-eu",
        "retention",
        "e2ee",
        "database",
    }
    assert "DE" in _by_id(report)["ice-regions"]["reason"]
    assert SECRET not in json.dumps(report)


def test_text_report_is_bilingual_and_secret_free(
    real_app: TestClient, turn_conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit.main(["--turn-config", str(turn_conf)], fetch=_fetcher(real_app)) == 0
    out = capsys.readouterr().out
    assert "Prüfbericht (data protection audit report)" in out
    assert "TURN-Geheimnis (TURN secret strength)" in out
    assert "bestanden (passed)" in out
    assert SECRET not in out
    assert "sqlite" not in out  # the database URL is not printed


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("password", "8 characters, fewer than 32"),
        ("changeme-changeme-changeme-changeme", "common word 'changeme'"),
        ("a" * 40, "fewer than 10 different characters"),
    ],
)
def test_weak_turn_secret_fails(run: Run, turn_conf: Path, secret: str, why: str) -> None:
    turn_conf.write_text(turn_conf.read_text().replace(SECRET, secret))
    code, report = run()
    assert code == 1
    failed = _failed(report)
    assert why in failed["turn-secret"]
    assert "differs from SPRECHZIMMER_TURN_SECRET" in failed["turn-secret-match"]
    assert secret not in json.dumps(report)


def test_missing_denied_ranges_fail(run: Run, turn_conf: Path) -> None:
    lines = turn_conf.read_text().splitlines()
    kept = [line for line in lines if "169.254." not in line and "=fc00::" not in line]
    assert len(kept) == len(lines) - 2
    turn_conf.write_text("\n".join(kept))
    code, report = run()
    assert code == 1
    reason = _failed(report)["turn-denied-peers"]
    assert "169.254.0.0-169.254.255.255" in reason
    assert "fc00::-" in reason
    assert "10.0.0.0" not in reason


def test_denied_range_from_all_zero_ipv6_fails(run: Run, turn_conf: Path) -> None:
    """coturn reads ``::-…`` as unbounded below: it would deny every IPv4 peer."""
    turn_conf.write_text(turn_conf.read_text() + "denied-peer-ip=::-::ffff:ffff\n")
    code, report = run()
    assert code == 1
    assert "starts at '::'" in _failed(report)["turn-denied-peers"]


def test_loosened_turn_config_fails(run: Run, turn_conf: Path) -> None:
    conf = turn_conf.read_text()
    conf = (
        conf.replace("use-auth-secret\n", "").replace("no-cli\n", "").replace("no-tcp-relay\n", "")
    )
    turn_conf.write_text(conf + "allowed-peer-ip=127.0.0.1\nallow-loopback-peers\n")
    code, report = run()
    assert code == 1
    failed = _failed(report)
    assert "use-auth-secret is missing" in failed["turn-auth"]
    assert "no-cli is missing" in failed["turn-hardening"]
    assert "no-tcp-relay is missing" in failed["turn-hardening"]
    assert "allowed-peer-ip 127.0.0.1 opens loopback" in failed["turn-denied-peers"]


def test_foreign_region_is_reported_not_raised(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = [{"urls": ["turn:turn.example.com:3478"], "region": "US", "auth": "rest"}]
    monkeypatch.setenv("SPRECHZIMMER_ICE_SERVERS", json.dumps(foreign))
    code, report = run("--url", URL)
    assert code == 1
    reason = _failed(report)["ice-regions"]
    assert reason.startswith("SPRECHZIMMER_ICE_SERVERS is invalid:")
    assert "turn:turn.example.com:3478 stands outside the allowed regions" in reason
    # What needs no settings is still checked.
    assert _by_id(report)["headers /call"]["status"] == "PASS"
    assert _by_id(report)["turn-denied-peers"]["status"] == "PASS"


def test_allowing_switzerland_warns_with_the_kbv_rule(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CH is neither EU nor EEA: allowed only by setting, and the audit names the rule."""
    swiss = {"urls": ["turn:turn.example.ch:3478"], "region": "CH", "auth": "rest"}
    monkeypatch.setenv("SPRECHZIMMER_ICE_SERVERS", json.dumps([*ICE_DE, swiss]))
    monkeypatch.setenv("SPRECHZIMMER_ALLOWED_REGIONS", json.dumps(["DE", "AT", "CH"]))
    code, report = run()
    eu = _by_id(report)["ice-regions-eu"]
    assert eu["status"] == "WARN", eu
    assert "allows CH" in eu["reason"] and "KBV Anlage 31b" in eu["reason"]
    assert _by_id(report)["ice-regions"]["status"] == "PASS"
    assert code == 0  # a warning; --strict makes it fail
    strict_code, _ = run("--strict")
    assert strict_code == 1


def test_public_stun_server_fails(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    google = {"urls": ["stun:stun.l.google.com:19302"], "region": "DE"}
    monkeypatch.setenv("SPRECHZIMMER_ICE_SERVERS", json.dumps([*ICE_DE, google]))
    code, report = run()
    assert code == 1
    assert "stun:stun.l.google.com:19302 is a public server" in _failed(report)["ice-public-stun"]


def test_retention_too_long_is_reported_not_raised(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPRECHZIMMER_QUALITY_RETENTION_DAYS", "120")
    code, report = run("--url", URL)
    assert code == 1
    reason = _failed(report)["retention"]
    assert reason.startswith("SPRECHZIMMER_QUALITY_RETENTION_DAYS is invalid:")
    assert "at most 90 days" in reason


def test_e2ee_off_fails(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPRECHZIMMER_E2EE_REQUIRED", "0")
    code, report = run()
    assert code == 1
    assert "E2EE_REQUIRED is off" in _failed(report)["e2ee"]


def test_missing_header_fails(run: Run, env: dict[str, str]) -> None:
    headers = security_headers(load_settings())
    del headers["Permissions-Policy"]
    with _fake_app(FAKE_PAGES, headers) as client:
        code, report = run(fetch=_fetcher(client))
    assert code == 1
    failed = _failed(report)
    for path in audit.HEADER_PATHS:
        assert failed[f"headers {path}"] == f"{path}: no Permissions-Policy."
    assert "third-party" not in failed


def test_weak_csp_and_missing_hsts_fail(run: Run, env: dict[str, str]) -> None:
    headers = security_headers(load_settings())
    del headers["Strict-Transport-Security"]
    headers["Content-Security-Policy"] = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    with _fake_app(FAKE_PAGES, headers) as client:
        code, report = run(fetch=_fetcher(client))
    assert code == 1
    reason = _failed(report)["headers /"]
    for problem in (
        "CSP object-src is not 'none'",
        "CSP base-uri is not 'none'",
        "CSP frame-ancestors is not 'none'",
        "CSP script-src allows 'unsafe-inline'",
        "no Strict-Transport-Security on HTTPS",
    ):
        assert problem in reason


def test_third_party_references_fail(run: Run, env: dict[str, str]) -> None:
    """A CDN script two imports deep, a protocol-relative stylesheet, a foreign socket."""
    files = {
        **FAKE_PAGES,
        "/dashboard": ("text/html", '<link rel="stylesheet" href="//fonts.example.com/css">'),
        "/static/b.js": (
            "text/javascript",
            "import { c } from 'https://cdn.example.net/lib.js';\n"
            "export const b = new WebSocket('wss://track.example.org/ws');\n",
        ),
    }
    with _fake_app(files, security_headers(load_settings())) as client:
        code, report = run(fetch=_fetcher(client))
    assert code == 1
    reason = _failed(report)["third-party"]
    assert "cdn.example.net (in /static/b.js)" in reason
    assert "track.example.org (in /static/b.js)" in reason
    assert "fonts.example.com (in /dashboard)" in reason


def test_the_real_client_is_crawled_completely(real_app: TestClient) -> None:
    fetched, findings, errors = audit.crawl(URL, _fetcher(real_app))
    assert findings == [] and errors == []
    # The worker is reached through `new URL('./e2ee-worker.js', import.meta.url)`.
    for path in ("/static/js/call.js", "/static/js/e2ee-worker.js", "/static/css/app.css"):
        assert path in fetched
    # Every script the package ships, so a new one the crawl cannot reach fails here
    # (the group call's modules among them, reached from call.js).
    static = Path(sprechzimmer.__file__).with_name("static") / "js"
    shipped = {f"/static/js/{p.name}" for p in static.glob("*.js")}
    assert shipped <= set(fetched)
    assert "/static/js/groupkeys.js" in fetched


def test_extra_database_column_fails(run: Run, env: dict[str, str]) -> None:
    engine = create_engine(env["SPRECHZIMMER_DATABASE_URL"])
    with engine.begin() as c:
        c.execute(text("ALTER TABLE sessions ADD COLUMN client_name TEXT"))
        c.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    engine.dispose()
    code, report = run()
    assert code == 1
    reason = _failed(report)["database"]
    assert "sessions.client_name" in reason
    assert "table notes" in reason


def test_missing_database_is_not_created(run: Run, env: dict[str, str]) -> None:
    path = Path(env["SPRECHZIMMER_DATABASE_URL"].removeprefix("sqlite:///"))
    path.unlink()
    code, report = run()
    assert code == 1
    assert "cannot be inspected" in _failed(report)["database"]
    assert not path.exists()


def test_unreachable_service_fails(run: Run) -> None:
    def refuse(url: str) -> audit.Fetched:
        raise ConnectionRefusedError(url)

    code, report = run(fetch=refuse)
    assert code == 1
    assert "cannot be reached (ConnectionRefusedError)" in _failed(report)["headers /"]


# --- pure checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://video.example.de", audit.Status.PASS),
        ("http://127.0.0.1:8000", audit.Status.WARN),
        ("http://[::1]:8000", audit.Status.WARN),
        ("http://localhost:8000", audit.Status.WARN),
        ("http://video.example.de", audit.Status.FAIL),
        ("http://10.0.0.5:8000", audit.Status.FAIL),
    ],
)
def test_tls(url: str, status: audit.Status) -> None:
    assert audit.check_tls(url).status is status


def test_strict_makes_a_warning_fail(
    real_app: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPRECHZIMMER_PUBLIC_URL", "http://127.0.0.1:8000")
    fetch = _fetcher(real_app)
    assert audit.main(["--json"], fetch=fetch) == 0
    assert audit.main(["--json", "--strict"], fetch=fetch) == 1


def test_the_servers_own_headers_pass() -> None:
    settings = load_settings(public_url=URL, secret_key="k" * 40)
    assert audit.header_problems(security_headers(settings), https=True) == []
    plain = load_settings(public_url="http://127.0.0.1:8000", secret_key="k" * 40)
    assert audit.header_problems(security_headers(plain), https=False) == []


def test_permissions_policy_must_name_camera_and_microphone() -> None:
    headers = security_headers(load_settings(public_url=URL, secret_key="k" * 40))
    headers["Permissions-Policy"] = "camera=*, geolocation=()"
    assert audit.header_problems(headers, https=True) == [
        "Permissions-Policy does not limit camera to self",
        "Permissions-Policy does not limit microphone to self",
    ]


def test_script_src_falls_back_to_default_src() -> None:
    assert "CSP script-src allows 'unsafe-eval'" in audit.csp_problems(
        "default-src 'self' 'unsafe-eval'; object-src 'none'"
    )


def test_ranges_are_covered_by_their_union_only() -> None:
    import ipaddress

    def r(a: str, b: str) -> tuple[Any, Any]:
        return ipaddress.ip_address(a), ipaddress.ip_address(b)

    have = [r("10.0.0.0", "10.127.255.255"), r("10.128.0.0", "10.255.255.255")]
    assert audit.turnconf._covered(r("10.0.0.0", "10.255.255.255"), have)
    assert not audit.turnconf._covered(r("10.0.0.0", "11.0.0.0"), have)
    assert not audit.turnconf._covered(r("::a00:0", "::aff:ffff"), have)  # another family


# --- the real thing ------------------------------------------------------------------


@pytest.mark.netns
def test_audit_of_a_running_server(tmp_path: Path) -> None:
    """`sprechzimmer audit` in the namespace against `sprechzimmer serve` on plain loopback."""
    reason = netns_available()
    if reason is not None:
        require_or_skip(reason)
    env = {"SPRECHZIMMER_TURN_SECRET": SECRET}
    with running_server(tmp_path, extra_env=env) as server:
        conf = tmp_path / "turnserver.conf"
        conf.write_text(server.admin("turn-config", "--listening-ip", "192.0.2.10"))
        done = server.ns.run(
            [*CLI, "audit", "--json", "--turn-config", str(conf)],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        text_run = server.ns.run(
            [*CLI, "audit", "--strict"],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses.pop("tls") == "WARN"  # plain HTTP on loopback
    assert set(statuses.values()) == {"PASS"}, report
    assert len(statuses) == 16  # ice-regions-eu and headers /nutzungsbedingungen: issue 14
    assert text_run.returncode == 1  # the WARN fails under --strict
    assert "WARN      tls" in text_run.stdout
    assert SECRET not in done.stdout + text_run.stdout


# --- audit --kbv: the certifier's report ------------------------------------------------


def _operator_legal_files(directory: Path) -> Path:
    """The operator's own terms, privacy controller details and imprint, filled in."""
    directory.mkdir(exist_ok=True)
    for name in legal.missing(load_settings(legal_dir=directory)):
        directory.joinpath(name).write_text(
            f"# {name}\n\nPraxisverbund Beispiel GmbH, Musterstraße 1, 10115 Berlin.\n",
            encoding="utf-8",
        )
    return directory


@pytest.fixture
def kbv_env(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hardened example with the operator's legal texts in place."""
    monkeypatch.setenv("SPRECHZIMMER_LEGAL_DIR", str(_operator_legal_files(tmp_path / "legal")))


def _requirements(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in report["requirements"]}


def test_kbv_report_passes_on_the_hardened_example(run: Run, kbv_env: None) -> None:
    code, report = run("--kbv")
    reqs = _requirements(report)
    assert {r["status"] for r in reqs.values()} == {"PASS"}, reqs
    assert code == 0 and report["passed"] is True
    assert set(reqs) == {r.id for r in kbv.requirements(kbv.Facts(), [])}
    assert "DE" in reqs["eu-server"]["how"]
    assert "90 Tagen" in reqs["metadaten"]["how"]
    # The sections besides the requirements, filled from this deployment and the field list.
    assert any("HMAC" in m for m in report["relay_measures"])
    assert any("P-256" in p["used"] for p in report["crypto_profile"])
    stored = "\n".join(report["record_of_processing"]["Gespeicherte Daten"])
    assert all(c.name in stored for c in datafields.COLUMNS)
    assert SECRET not in json.dumps(report)


def test_kbv_text_report_is_german_and_names_each_proof(
    real_app: TestClient,
    turn_conf: Path,
    kbv_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--kbv", "--turn-config", str(turn_conf)]
    assert audit.main(argv, fetch=_fetcher(real_app)) == 0
    text_report = capsys.readouterr().out
    for heading in (
        "Nachweis zu Anlage 31b BMV-Ä",
        "1. Anforderungen",
        "2. Technische und organisatorische Maßnahmen für das Relay (TURN)",
        "3. Kryptoprofil (gemessen an BSI TR-02102)",
        "4. Verzeichnis von Verarbeitungstätigkeiten",
        "die Konfiguration erfüllt alle",
    ):
        assert heading in text_report
    for requirement in kbv.requirements(kbv.Facts(), []):
        for proof in requirement.proof:
            assert f"Nachweis: {proof}" in text_report


@pytest.mark.parametrize(
    ("case", "setting", "value", "requirement", "says"),
    [
        (
            "CH without opt-in",
            "SPRECHZIMMER_ICE_SERVERS",
            json.dumps([{"urls": ["turn:turn.example.ch:3478"], "region": "CH", "auth": "rest"}]),
            "eu-server",
            "Anlage 31b lässt Server nur in der EU zu",
        ),
        (
            "CH allowed",
            "SPRECHZIMMER_ALLOWED_REGIONS",
            json.dumps(["DE", "AT", "CH"]),
            "eu-server",
            "erlaubt CH außerhalb von EU und EWR; Anlage 31b lässt Server nur in der EU zu",
        ),
        (
            "retention 120 days",
            "SPRECHZIMMER_METADATA_RETENTION_DAYS",
            "120",
            "metadaten",
            "Verbindungsereignisse und Sitzungen 120 Tage (höchstens 90)",
        ),
        ("missing terms", "SPRECHZIMMER_LEGAL_DIR", "", "nutzungsbedingungen", "terms.de.md"),
        ("name optional", "SPRECHZIMMER_CLIENT_NAME", "optional", "klarname", "optional"),
        ("e2ee off", "SPRECHZIMMER_E2EE_REQUIRED", "0", "e2ee", "E2EE_REQUIRED ist aus"),
    ],
)
def test_kbv_fails_naming_the_requirement(
    run: Run,
    kbv_env: None,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    setting: str,
    value: str,
    requirement: str,
    says: str,
) -> None:
    if value:
        monkeypatch.setenv(setting, value)
    else:
        monkeypatch.delenv(setting)
    code, report = run("--kbv")
    assert code == 1, case
    assert report["passed"] is False
    unmet = {i for i, r in _requirements(report).items() if r["status"] == "FAIL"}
    assert requirement in unmet, (case, unmet)
    assert says in _requirements(report)[requirement]["how"], _requirements(report)[requirement]


def test_every_proof_the_kbv_report_names_exists() -> None:
    """A renamed or removed test would leave the certifier's report pointing at nothing."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "kbv.md").read_text(encoding="utf-8")
    for requirement in kbv.requirements(kbv.Facts(), []):
        for proof in requirement.proof:
            path, _, name = proof.partition("::")
            source = root / path
            assert source.is_file(), proof
            if name:
                assert f"def {name}(" in source.read_text(encoding="utf-8"), proof
            assert proof in doc, f"docs/kbv.md does not point to {proof}"


def test_only_the_keyword_from_starts_a_module_reference() -> None:
    """An attribute name ending in "from" inside a string (the chat's ``'data-from'``) is no
    import: the crawl once tried to fetch what followed it."""
    script = (
        "import { a } from './a.js';\nexport * from \"./b.js\";\n"
        "const li = el('li', { 'data-from': entry.from, class: 'x' });\n"
    )
    assert references("text/javascript", "/static/js/x.js", script) == ["./a.js", "./b.js"]
