"""`sprechzimmer sfu-config` as an operator runs it (no Janus needed: its module
folder is a stand-in), and the settings it reads."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sprechzimmer.config import ConfigError, load_settings
from sprechzimmer.sfu import PLUGIN, TRANSPORT, derive_secrets

SECRET = "c" * 40


def sfu_config(tmp_path: Path, *args: str, secret: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SPRECHZIMMER_DATA_DIR": str(tmp_path / "data")}
    if secret:
        env["SPRECHZIMMER_SFU_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "sprechzimmer", "sfu-config", *args],
        env=env,
        cwd=tmp_path,  # no .env of the developer's checkout
        capture_output=True,
        text=True,
        timeout=60,
    )


def _modules(tmp_path: Path) -> Path:
    root = tmp_path / "janus-lib"
    for sub, name in (
        ("plugins", PLUGIN),
        ("plugins", "libjanus_sip.so"),
        ("transports", TRANSPORT),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub / name).write_bytes(b"")
    return root


def test_it_refuses_without_a_secret_and_a_short_one_stops_the_settings(tmp_path: Path) -> None:
    done = sfu_config(tmp_path, str(tmp_path / "out"), "--ice-ip", "10.0.0.5")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("sprechzimmer: set SPRECHZIMMER_SFU_SECRET (at least 32")
    done = sfu_config(tmp_path, str(tmp_path / "out"), "--ice-ip", "10.0.0.5", secret="short")
    assert done.returncode == 2 and "SPRECHZIMMER_SFU_SECRET is invalid" in done.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="SFU_URL is invalid"):
        load_settings(sfu_url="127.0.0.1:8088")


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--ice-ip", "eth0"], "must be an IP address"),
        (["--ice-ip", "10.0.0.5", "--rtp-ports", "20000"], "must look like 20000-20999"),
    ],
)
def test_a_wrong_option_gets_a_sentence_and_writes_nothing(
    tmp_path: Path, args: list[str], sentence: str
) -> None:
    modules = _modules(tmp_path)
    out = tmp_path / "out"
    done = sfu_config(tmp_path, str(out), "--janus-modules", str(modules), *args, secret=SECRET)
    assert done.returncode == 1 and sentence in done.stderr, done.stderr
    assert not out.exists()


def test_it_writes_private_files_and_only_two_modules(tmp_path: Path) -> None:
    modules = _modules(tmp_path)
    out = tmp_path / "out"
    done = sfu_config(
        tmp_path, str(out), "--ice-ip", "10.0.0.5", "--janus-modules", str(modules), secret=SECRET
    )
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for name in ("janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
        assert str(out / name) in done.stdout
    assert [p.name for p in (out / "plugins").iterdir()] == [PLUGIN]
    assert (out / "plugins" / PLUGIN).resolve() == (modules / "plugins" / PLUGIN).resolve()
    assert [p.name for p in (out / "transports").iterdir()] == [TRANSPORT]
    assert list((out / "events").iterdir()) == [] and list((out / "loggers").iterdir()) == []
    text = (out / "janus.jcfg").read_text()
    assert derive_secrets(SECRET).api in text and SECRET not in text
    # Written again (a rotated secret): the same folders, nothing left over.
    again = sfu_config(
        tmp_path, str(out), "--ice-ip", "10.0.0.6", "--janus-modules", str(modules), secret="d" * 40
    )
    assert again.returncode == 0, again.stderr
    assert derive_secrets("d" * 40).api in (out / "janus.jcfg").read_text()
    assert [p.name for p in (out / "plugins").iterdir()] == [PLUGIN]
