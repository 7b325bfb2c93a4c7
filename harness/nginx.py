"""nginx in front of several server processes, configured by the block in docs/operations.md.

The tests run the very configuration operators copy: ``nginx_config_from_docs``
takes the one ```` ```nginx ```` block of the operations guide, points its
upstream at the test's ports and its listener at the test's address, and wraps
it in a main configuration that keeps every file nginx writes under the test's
directory. ``running_nginx`` runs it inside the test's namespace.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .netns import Netns, require_or_skip
from .server import TIME_SCALE, stop_process, wait_for_port

NGINX = "/usr/sbin/nginx"
OPERATIONS_DOC = Path(__file__).resolve().parents[1] / "docs" / "operations.md"

_BLOCK = re.compile(r"^```nginx\n(.*?)^```", re.MULTILINE | re.DOTALL)
_UPSTREAM_SERVER = re.compile(r"^(\s*)server 127\.0\.0\.1:800[12]( [^;]*)?;\n", re.MULTILINE)
_LISTEN = re.compile(r"^(\s*)listen 80;", re.MULTILINE)


def _doc_block(doc: Path) -> str:
    blocks = _BLOCK.findall(doc.read_text())
    if len(blocks) != 1:
        raise ValueError(f"{doc} must hold exactly one ```nginx block, not {len(blocks)}")
    block: str = blocks[0]
    return block


def nginx_config_from_docs(
    ports: list[int], listen: int, directory: Path, doc: Path = OPERATIONS_DOC
) -> str:
    """A complete nginx.conf: the documented block, for ``ports``, on 127.0.0.1:``listen``."""
    block = _doc_block(doc)
    upstream = list(_UPSTREAM_SERVER.finditer(block))
    if [m.group(0).split()[1] for m in upstream] != ["127.0.0.1:8001", "127.0.0.1:8002"]:
        raise ValueError(f"the nginx block in {doc} no longer lists 127.0.0.1:8001 and :8002")
    indent, parameters = upstream[0].group(1), upstream[0].group(2) or ""
    servers = "".join(f"{indent}server 127.0.0.1:{port}{parameters};\n" for port in ports)
    block = block[: upstream[0].start()] + servers + block[upstream[-1].end() :]
    block, listens = _LISTEN.subn(rf"\g<1>listen 127.0.0.1:{listen};", block)
    if listens != 1:
        raise ValueError(f"the nginx block in {doc} must have exactly one `listen 80;`")
    temp = directory / "tmp"
    return f"""\
daemon off;
master_process on;
worker_processes 1;
# Workers would otherwise run as nobody, who cannot enter the test's directory.
user root;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;

{block}}}
"""


@dataclass
class RunningNginx:
    origin: str
    error_log: Path
    process: subprocess.Popen[Any]

    def log(self) -> str:
        try:
            return self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def running_nginx(
    directory: Path, ns: Netns, ports: list[int], listen: int
) -> Iterator[RunningNginx]:
    """nginx on 127.0.0.1:``listen`` inside ``ns`` in front of ``ports``; stopped on exit."""
    if not os.path.exists(NGINX):
        require_or_skip("nginx is not installed (apt-get install nginx-light)")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tmp").mkdir(exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(nginx_config_from_docs(ports, listen, directory))
    error_log = directory / "error.log"
    # -e: the error log before the configuration is read goes there too, not to
    # the compiled-in default.
    argv = [NGINX, "-e", str(error_log), "-c", str(conf)]
    checked = ns.run([*argv, "-t"], timeout=10 * TIME_SCALE, capture_output=True, text=True)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t rejects {conf}: {checked.stderr[-2000:]}")
    # ns.popen makes nginx's master a process group leader (start_new_session),
    # and its workers stay in that group: stop_process's SIGTERM reaches them all.
    with (directory / "nginx.out").open("w") as out:
        process = ns.popen(argv, stdout=out, stderr=subprocess.STDOUT)
    nginx = RunningNginx(f"http://127.0.0.1:{listen}", error_log, process)
    try:
        try:
            wait_for_port(ns, listen, timeout=10 * TIME_SCALE)
        except RuntimeError:
            raise RuntimeError(f"nginx did not start: {nginx.log()[-2000:]}") from None
        yield nginx
    finally:
        stop_process(ns, process)
