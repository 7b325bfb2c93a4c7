"""The golden vectors of group frame keys (tests/vectors/group/group-keys.json),
recomputed here with Python's ``cryptography`` package: an implementation of
ECDH P-256, HKDF-SHA256 and AES-128-GCM independent of the browser's WebCrypto
code (static/js/groupkeys.js), which tests/js/groupkeys.test.js checks against
the same file. Both agreeing with the file is what makes them agree with each other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "group" / "group-keys.json"
LABEL = b"sprechzimmer-group-v1"


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    return data


def _members() -> dict[int, tuple[ec.EllipticCurvePrivateKey, bytes]]:
    out = {}
    for m in _load()["members"]:
        key = ec.derive_private_key(int.from_bytes(_unb64url(m["jwk"]["d"]), "big"), ec.SECP256R1())
        pub = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert base64.b64decode(m["pub"]) == pub
        assert _unb64url(m["jwk"]["x"]) == pub[1:33] and _unb64url(m["jwk"]["y"]) == pub[33:]
        out[m["index"]] = (key, pub)
    return out


def _pair(members: dict[int, tuple[ec.EllipticCurvePrivateKey, bytes]], i: int, j: int) -> bytes:
    lo, hi = sorted((i, j))
    salt = hashlib.sha256(
        _lp(LABEL) + bytes([lo]) + _lp(members[lo][1]) + bytes([hi]) + _lp(members[hi][1])
    ).digest()
    secret = members[i][0].exchange(ec.ECDH(), members[j][0].public_key())
    return _hkdf(secret, salt, b"sprechzimmer group pair", 16)


def test_pair_keys_are_the_same_from_either_side_and_as_recorded() -> None:
    members = _members()
    for v in _load()["pair_keys"]:
        i, j = v["pair"]
        assert _pair(members, i, j) == _pair(members, j, i) == bytes.fromhex(v["key"])


def test_sender_keys_open_only_for_their_pair_epoch_and_direction() -> None:
    members = _members()
    for v in _load()["sender_keys"]:
        m = v["message"]
        aad = (
            _lp(LABEL) + b"sender-key" + struct.pack(">Q", m["epoch"]) + bytes([m["from"], m["to"]])
        )
        assert aad.hex() == v["aad"]
        key = AESGCM(_pair(members, m["from"], m["to"]))
        iv, sealed = base64.b64decode(m["iv"]), base64.b64decode(m["sealed"])
        assert iv.hex() == v["iv"]
        assert key.decrypt(iv, sealed, aad).hex() == v["base_key"]
        assert key.encrypt(iv, bytes.fromhex(v["base_key"]), aad) == sealed


def test_group_codes_are_as_recorded() -> None:
    members = _members()
    for v in _load()["group_codes"]:
        indices = sorted(v["members"])
        transcript = hashlib.sha256(
            _lp(LABEL)
            + bytes([len(indices)])
            + b"".join(bytes([i]) + _lp(members[i][1]) for i in indices)
        ).digest()
        n = int.from_bytes(_hkdf(transcript, b"", b"sprechzimmer group sas", 4), "big") % 1_000_000
        assert f"{n:06d}"[:3] + " " + f"{n:06d}"[3:] == v["code"]


def test_kids_name_the_epoch_and_the_member() -> None:
    for v in _load()["kids"]:
        assert v["kid"] == v["epoch"] * 16 + v["index"]
