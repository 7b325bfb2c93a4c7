"""``sprechzimmer audit``: a pass/fail report on a deployment, for its data protection officer.

It reads the same settings as the server (environment / ``.env``), optionally a
``turnserver.conf``, fetches the running service's pages, scripts and API
schema, and inspects the live database schema. Each check is one named line:
PASS, WARN or FAIL with one sentence why. Any FAIL makes the exit code 1
(``--strict``: any WARN too).

Decisions an auditor should know:

- A plain ``http://`` public URL fails, unless its host is a loopback address:
  that is a WARN, because such a service is reachable from the same machine
  only (a demo or a test), and a report on it must not pass as a production one
  under ``--strict``.
- "Third-party host" is any host other than the public URL's origin (and, for
  WebSockets, its ws/wss twin). XML namespace names (``http://www.w3.org/2000/svg``)
  are identifiers, never fetched, and are ignored.
- The allowed database schema is the model metadata in ``store.py`` plus
  Alembic's own ``alembic_version`` table; missing tables are a WARN (the schema
  is not migrated yet), extra ones a FAIL.

Pure checks take values and return ``Check``s; the network (``Fetch``), the
database and the clock live at the edges, so tests can run the whole audit
in-process. This package never prints a secret or the database URL.

One module per concept:

- ``results``: ``Status``, ``Check`` and the titles of the report's lines;
- ``web``: TLS, the Content-Security-Policy and the other security headers;
- ``turnconf``: parsing a ``turnserver.conf`` and checking the relay's secret,
  denied peer ranges and hardening;
- ``service``: fetching the running service (``Fetch``), following its client's
  references, the header and third-party checks on the live service;
- ``policy``: ICE servers and their regions, quality data retention, E2EE;
- ``database``: the live schema against the documented one;
- ``report``: ``run_audit``, the text and JSON reports, ``main``.
"""

from .report import main
from .results import Check, Status
from .service import HEADER_PATHS, Fetch, Fetched, crawl
from .web import check_tls, csp_problems, header_problems

__all__ = [
    "HEADER_PATHS",
    "Check",
    "Fetch",
    "Fetched",
    "Status",
    "check_tls",
    "crawl",
    "csp_problems",
    "header_problems",
    "main",
]
