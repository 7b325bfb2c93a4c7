"""The SFU next to coturn (Janus 1.1, VideoRoom) for group sessions: its hardened
configuration and the secrets this server shares with it.

Group calls beyond three people go through an SFU the operator runs next to
coturn (issue 16). It only forwards frames that are SFrame ciphertext; what it
must never do is record, forward media elsewhere, report to third parties, or
accept requests from anyone but this server. The configuration written here
makes those properties hold by construction, and ``sprechzimmer audit
--sfu-config DIR`` checks them on the files and on the running SFU:

- only the VideoRoom plugin and the HTTP transport can load (the module
  folders hold nothing else), no event handler, no external logger;
- the API and the admin API listen on loopback only, each behind its own
  secret; browsers never talk to the SFU's API, only this server does;
- rooms are created only with the room key (``admin_key``), RTP forwarding
  needs it too (``lock_rtp_forward``), and there is no recording folder;
- no STUN server (the SFU knows its own address, and a public STUN server
  would be a third party), ICE candidates only on the operator's address, a
  fixed RTP port range;
- logging at warnings only: Janus logs addresses at its informational
  levels.

All three Janus secrets are derived from one setting, ``SPRECHZIMMER_SFU_SECRET``,
by HMAC with a label each, so the server, the configuration and the audit
agree without a second secret to copy around.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

MIN_SECRET = 32
"""Characters of ``SPRECHZIMMER_SFU_SECRET`` at least, as for the TURN secret."""

API_PORT = 8088
ADMIN_PORT = 7088
LOOPBACK = "127.0.0.1"
PLUGIN = "libjanus_videoroom.so"
TRANSPORT = "libjanus_http.so"
LOG_LEVEL = 3
"""Janus's warnings and errors only: its informational levels log ICE addresses."""

# Janus refuses to write anything (a recording, say) below these.
PROTECTED = ", ".join(
    f'"{p}"'
    for p in (
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib64",
        "/proc",
        "/sbin",
        "/sys",
        "/usr",
        "/var",
    )
)

CONFIG_FILES = ("janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg")


class SfuConfigError(ValueError):
    """A sentence for the operator."""


@dataclass(frozen=True)
class SfuSecrets:
    api: str
    """Janus ``api_secret``: every API request carries it."""
    admin: str
    """Janus ``admin_secret``: the admin API's."""
    room_key: str
    """VideoRoom ``admin_key``: creating a room, RTP forwarding."""


def derive_secrets(secret: str) -> SfuSecrets:
    if len(secret) < MIN_SECRET:
        raise SfuConfigError(
            f"SPRECHZIMMER_SFU_SECRET must have at least {MIN_SECRET} characters "
            "(e.g. from `openssl rand -base64 32`)"
        )

    def one(label: str) -> str:
        return hmac.new(
            secret.encode(), f"sprechzimmer sfu {label}".encode(), hashlib.sha256
        ).hexdigest()

    return SfuSecrets(api=one("api"), admin=one("admin"), room_key=one("room key"))


@dataclass(frozen=True)
class JanusOptions:
    secret: str
    """``SPRECHZIMMER_SFU_SECRET``."""
    ice_ip: str
    """The address the SFU offers in its ICE candidates (its own interface's)."""
    public_ip: str | None = None
    """The public address in front of ``ice_ip`` behind a 1:1 NAT, if any."""
    rtp_ports: tuple[int, int] = (20000, 20999)
    """The UDP ports media uses: the firewall opens exactly these."""
    module_dir: str | None = None
    """Where the system's Janus keeps its plugins and transports (found if None)."""


def _check_ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise SfuConfigError(f"{what} must be an IP address, not {value!r}") from None


def parse_port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        lo, hi = int(low), int(high)
    except ValueError:
        raise SfuConfigError(
            f"the RTP port range must look like 20000-20999, not {text!r}"
        ) from None
    if not sep or not 1024 <= lo < hi <= 65535:
        raise SfuConfigError(
            f"the RTP port range must lie within 1024-65535, low to high: {text!r}"
        )
    return lo, hi


def system_module_dir() -> str:
    """The system's Janus module folder (Debian: /usr/lib/<triplet>/janus)."""
    found = sorted(glob.glob(f"/usr/lib/*/janus/plugins/{PLUGIN}")) + sorted(
        glob.glob(f"/usr/lib/janus/plugins/{PLUGIN}")
    )
    if not found:
        raise SfuConfigError(
            "Janus is not installed (no VideoRoom plugin found); apt install janus"
        )
    return str(Path(found[0]).parent.parent)


def _q(value: str) -> str:
    if '"' in value or "\\" in value or "\n" in value:
        raise SfuConfigError(f"a value of the SFU configuration cannot hold quotes: {value!r}")
    return f'"{value}"'


def janus_config(o: JanusOptions, folder: Path) -> dict[str, str]:
    """The three files of the configuration in ``folder``, by name."""
    s = derive_secrets(o.secret)
    ice_ip = _check_ip(o.ice_ip, "the SFU's ICE address")
    nat = (
        f"\tnat_1_1_mapping = {_q(_check_ip(o.public_ip, 'the public address'))}\n"
        if o.public_ip
        else ""
    )
    lo, hi = o.rtp_ports
    main = f"""# Written by `sprechzimmer sfu-config`: the SFU for sprechzimmer's group sessions.
# `sprechzimmer audit --sfu-config {folder}` checks it; edit with care.
general: {{
\tconfigs_folder = {_q(str(folder))}
\tplugins_folder = {_q(str(folder / "plugins"))}
\ttransports_folder = {_q(str(folder / "transports"))}
\tevents_folder = {_q(str(folder / "events"))}
\tloggers_folder = {_q(str(folder / "loggers"))}
\tdebug_level = {LOG_LEVEL}
\tdebug_timestamps = true
\tdebug_colors = false
\tapi_secret = {_q(s.api)}
\tadmin_secret = {_q(s.admin)}
\tinterface = {_q(ice_ip)}
\tserver_name = "sfu"
\tsession_timeout = 60
\thide_dependencies = true
\tprotected_folders = [{PROTECTED}]
}}
certificates: {{
}}
media: {{
\tipv6 = false
\trtp_port_range = "{lo}-{hi}"
}}
nat: {{
\tice_enforce_list = {_q(ice_ip)}
\tignore_mdns = true
{nat}}}
plugins: {{
}}
transports: {{
}}
loggers: {{
}}
events: {{
\tbroadcast = false
}}
"""
    videoroom = f"""# Written by `sprechzimmer sfu-config`. Rooms exist only as this server creates
# them (with the room key), each with require_e2ee; no room here, no recording folder.
general: {{
\tadmin_key = {_q(s.room_key)}
\tlock_rtp_forward = true
\tstring_ids = true
\tevents = false
}}
"""
    http = f"""# Written by `sprechzimmer sfu-config`: the API and the admin API on loopback only.
general: {{
\tjson = "plain"
\tbase_path = "/janus"
\thttp = true
\tip = "{LOOPBACK}"
\tport = {API_PORT}
\thttps = false
}}
admin: {{
\tadmin_base_path = "/admin"
\tadmin_http = true
\tadmin_ip = "{LOOPBACK}"
\tadmin_port = {ADMIN_PORT}
\tadmin_https = false
}}
cors: {{
}}
"""
    return dict(zip(CONFIG_FILES, (main, videoroom, http), strict=True))


def write_janus_config(o: JanusOptions, folder: Path) -> list[Path]:
    """Write the configuration into ``folder`` (created 0700, files 0600) with module
    folders that hold only the VideoRoom plugin and the HTTP transport."""
    module_dir = Path(o.module_dir or system_module_dir())
    folder = folder.resolve()
    files = janus_config(o, folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(path, 0o600)
        written.append(path)
    for sub, module in (
        ("plugins", PLUGIN),
        ("transports", TRANSPORT),
        ("events", None),
        ("loggers", None),
    ):
        target = folder / sub
        target.mkdir(mode=0o700, exist_ok=True)
        for old in target.iterdir():
            old.unlink()
        if module is not None:
            source = module_dir / sub / module
            if not source.exists():
                raise SfuConfigError(f"{source} is missing: is Janus installed?")
            (target / module).symlink_to(source)
    return written
