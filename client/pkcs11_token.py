"""Ed25519 keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM2 in the tests): the
node signs through the token and the private key never leaves it.

A key is named by an RFC 7512 URI, `pkcs11:token=LABEL;object=LABEL`, optionally with
`?module-path=/path/to/the/module.so` (default: `$GOVCHAIN_PKCS11_MODULE`, else Debian's
SoftHSM2). The PIN is passed in by the caller (client/keys.py reads it from a file or an
environment variable) and never appears in a message or a log line. The token signs with
CKM_EDDSA on a CKK_EC_EDWARDS key (curve OID 1.3.101.112, Ed25519): the signatures are
ordinary Ed25519 signatures that nacl verifies, so nothing else in govchain knows where a
key lives.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import nacl.exceptions
import nacl.signing
import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

# DER of the Ed25519 curve OID (1.3.101.112): CKA_EC_PARAMS of a CKK_EC_EDWARDS key.
ED25519_PARAMS = b"\x06\x03\x2b\x65\x70"
DEFAULT_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)
_libs: dict[str, pkcs11.lib] = {}
_libs_lock = threading.Lock()


class TokenError(Exception):
    """A token key cannot be used; the message names the URI's token and object, never the PIN."""


@dataclass(frozen=True)
class TokenUri:
    token: str
    object: str
    module_path: str | None = None

    def __str__(self) -> str:
        return f"pkcs11:token={self.token};object={self.object}"


def parse_uri(uri: str) -> TokenUri:
    """`pkcs11:token=T;object=O[?module-path=P]`; refuses a PIN in the URI (`pin-value`)."""
    if not uri.startswith("pkcs11:"):
        raise TokenError(f"{uri!r} is not a pkcs11: URI")
    path, _, query = uri[len("pkcs11:") :].partition("?")
    attrs = dict(_pairs(path, ";", uri))
    params = dict(_pairs(query, "&", uri)) if query else {}
    if "pin-value" in params or "pin-source" in params:
        raise TokenError(f"{uri.split('?')[0]}: the PIN comes from the key's secret, not the URI")
    unknown = (set(attrs) - {"token", "object"}) | (set(params) - {"module-path"})
    if unknown:
        raise TokenError(f"{uri}: unsupported URI attribute(s) {sorted(unknown)}")
    if "token" not in attrs or "object" not in attrs:
        raise TokenError(f"{uri}: a token key URI needs token= and object=")
    return TokenUri(attrs["token"], attrs["object"], params.get("module-path"))


def _pairs(text: str, sep: str, uri: str) -> list[tuple[str, str]]:
    out = []
    for part in filter(None, text.split(sep)):
        name, eq, value = part.partition("=")
        if not eq:
            raise TokenError(f"{uri}: {part!r} is not name=value")
        out.append((name, unquote(value)))
    return out


def module_path(uri: TokenUri) -> str:
    """The PKCS#11 module to load: the URI's, the environment's, else SoftHSM2's."""
    if uri.module_path:
        return uri.module_path
    if os.environ.get("GOVCHAIN_PKCS11_MODULE"):
        return os.environ["GOVCHAIN_PKCS11_MODULE"]
    for candidate in DEFAULT_MODULES:
        if Path(candidate).exists():
            return candidate
    raise TokenError(
        f"{uri}: no PKCS#11 module (give ?module-path= or $GOVCHAIN_PKCS11_MODULE, "
        "or install softhsm2)"
    )


def _lib(path: str) -> pkcs11.lib:
    """One loaded module per path for the process (C_Initialize runs once per module)."""
    with _libs_lock:
        if path not in _libs:
            try:
                _libs[path] = pkcs11.lib(path)
            except (RuntimeError, OSError, p11e.PKCS11Error) as e:
                raise TokenError(f"cannot load PKCS#11 module {path}: {e}") from None
        return _libs[path]


def open_session(uri: TokenUri, pin: str, rw: bool = False) -> pkcs11.Session:
    """A logged-in session on the URI's token; errors name the token, never the PIN."""
    lib = _lib(module_path(uri))
    try:
        token = lib.get_token(token_label=uri.token)
    except p11e.NoSuchToken:
        raise TokenError(f"{uri}: no token labelled {uri.token!r}") from None
    except p11e.MultipleTokensReturned:
        raise TokenError(f"{uri}: more than one token labelled {uri.token!r}") from None
    try:
        return token.open(user_pin=pin, rw=rw)
    except p11e.UserAlreadyLoggedIn:
        # PKCS#11 logs in per application, not per session: while another session of
        # this process is logged in to the token, a new one shares that login.
        return token.open(rw=rw)
    except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange):
        raise TokenError(f"{uri}: wrong PIN for token {uri.token!r}") from None
    except p11e.PinLocked:
        raise TokenError(f"{uri}: the token's user PIN is locked") from None
    except p11e.PKCS11Error as e:
        raise TokenError(f"{uri}: cannot open token: {type(e).__name__}") from None


def ec_point_to_public(point: bytes) -> bytes:
    """A CKA_EC_POINT (DER OCTET STRING 04 20 + 32 bytes, or the raw 32 bytes) → 32 bytes."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise TokenError(f"unexpected Ed25519 public point of {len(point)} bytes")


class TokenSigner:
    """A consensus Signer (public_key, sign) whose private key stays in the token.

    One logged-in session, serialised by a lock: a PKCS#11 session runs one operation at
    a time, and the node signs from its event loop and, rarely, from other threads."""

    def __init__(self, uri: str, pin: str) -> None:
        self.uri = parse_uri(uri)
        self._session = open_session(self.uri, pin)
        self._lock = threading.Lock()
        try:
            self._key = self._session.get_key(
                object_class=ObjectClass.PRIVATE_KEY,
                key_type=KeyType.EC_EDWARDS,
                label=self.uri.object,
            )
            pub = self._session.get_key(
                object_class=ObjectClass.PUBLIC_KEY,
                key_type=KeyType.EC_EDWARDS,
                label=self.uri.object,
            )
            self._public = ec_point_to_public(pub[Attribute.EC_POINT])
        except p11e.NoSuchKey:
            self.close()
            raise TokenError(
                f"{self.uri}: no Ed25519 key pair labelled {self.uri.object!r} in the token"
            ) from None
        except p11e.MultipleObjectsReturned:
            self.close()
            raise TokenError(
                f"{self.uri}: more than one key labelled {self.uri.object!r}"
            ) from None
        self._check()

    def _check(self) -> None:
        """Sign a probe and verify it: the private and public objects must be one pair."""
        probe = b"govchain token key check"
        try:
            nacl.signing.VerifyKey(self._public).verify(probe, self.sign(probe))
        except nacl.exceptions.BadSignatureError:
            self.close()
            raise TokenError(f"{self.uri}: private and public key objects do not match") from None

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, data: bytes) -> bytes:
        try:
            with self._lock:
                return bytes(self._key.sign(data, mechanism=Mechanism.EDDSA))
        except p11e.PKCS11Error as e:
            raise TokenError(f"{self.uri}: the token refused to sign: {type(e).__name__}") from None

    def close(self) -> None:
        with contextlib.suppress(p11e.PKCS11Error):
            self._session.close()

    def __repr__(self) -> str:
        return f"TokenSigner({self.uri}, public_key={self._public.hex()[:16]}…)"


def _key_template(label: str) -> tuple[dict, dict]:
    """(public, private) attributes: a private key that signs and never leaves the token."""
    ident = label.encode()
    public = {Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.ID: ident}
    private = {
        Attribute.TOKEN: True,
        Attribute.LABEL: label,
        Attribute.ID: ident,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
    }
    return public, private


def create_token_key(uri: str, pin: str, seed: bytes | None = None) -> bytes:
    """Generate an Ed25519 key pair in the token (or, with `seed`, import that key once,
    e.g. a validator key already in genesis); returns the public key. Refuses to
    overwrite: an object with the label already there is an error."""
    u = parse_uri(uri)
    with open_session(u, pin, rw=True) as session:
        if list(session.get_objects({Attribute.LABEL: u.object})):
            raise TokenError(f"{u}: the token already holds an object labelled {u.object!r}")
        public, private = _key_template(u.object)
        try:
            if seed is None:
                params = session.create_domain_parameters(
                    KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ED25519_PARAMS}, local=True
                )
                pub, _ = params.generate_keypair(
                    store=True, public_template=public, private_template=private
                )
                return ec_point_to_public(pub[Attribute.EC_POINT])
            point = bytes(nacl.signing.SigningKey(seed).verify_key)
            common = {Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: ED25519_PARAMS}
            secret = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.VALUE: seed}
            session.create_object({**common, **private, **secret})
            session.create_object(
                {
                    **common,
                    **public,
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.EC_POINT: b"\x04\x20" + point,
                }
            )
            return point
        except p11e.PKCS11Error as e:
            raise TokenError(f"{u}: the token refused the key: {type(e).__name__}") from None


def mechanism_names(uri: str) -> list[str]:
    """The mechanisms the URI's token offers (for docs and diagnostics; no PIN needed)."""
    u = parse_uri(uri)
    try:
        token = _lib(module_path(u)).get_token(token_label=u.token)
    except p11e.PKCS11Error as e:
        raise TokenError(f"{u}: {type(e).__name__}") from None
    return sorted(getattr(m, "name", hex(int(m))) for m in token.slot.get_mechanisms())
