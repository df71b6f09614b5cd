"""Key custody: where a signing key lives, behind one small interface.

A key is named by a *key spec*: a file path or a `pkcs11:` URI. Three kinds:

- a plaintext key file (a hex Ed25519 seed, what `govchain keygen` wrote before): still
  loads, with a loud warning logged once per file (never the key);
- an encrypted key file (`govchain keygen --encrypt`): the seed sealed with XSalsa20-Poly1305
  (`nacl.secret.SecretBox`) under a key derived from a passphrase by Argon2id
  (`nacl.pwhash.argon2id`, memory-hard); format below;
- a key in a PKCS#11 token (`pkcs11:token=T;object=O`, client/pkcs11_token.py): the token
  signs, the private key never leaves it.

An encrypted file or a token needs a *secret* (passphrase or PIN), named by a *secret
spec*: `env:NAME` (an environment variable) or `file:PATH` (the file's first line). The
secret itself is never in a config, a message or a log line.

Encrypted key file, version 1: one JSON object, keys sorted, indent 2, newline at the end:
`{"cipher": "xsalsa20-poly1305", "ciphertext": hex, "format": "govchain-key", "kdf":
{"memlimit": bytes, "name": "argon2id", "opslimit": n, "salt": hex (16 bytes)}, "nonce": hex
(24 bytes), "public_key": hex, "version": 1}`. The plaintext is the 32-byte seed; the
public key is in clear so tools can show whose key a file holds, and is checked against the
decrypted seed (a file whose public key was swapped is refused). Changing any KDF parameter
or salt derives another key, so the MAC fails: a tampered file never decrypts.

Two shapes of the same key, for the two kinds of caller: `load_signer` gives a consensus
`Signer` (public_key, sign → 64 bytes), what the node signs votes and hellos with;
`load_signing_key` gives what `chains.tx.encode_tx` and the CLI sign txs with (a nacl
`SigningKey`, or for a token an object with the same `sign`/`verify_key` shape). For key
files both are plain nacl underneath, as fast as before.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils
import structlog

from consensus.crypto import Ed25519Signer

log = structlog.get_logger("keys")

FORMAT = "govchain-key"
VERSION = 1
# Argon2id cost for new files: libsodium's "moderate" (256 MiB, 3 passes, about a second).
OPSLIMIT = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
MEMLIMIT = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
MAX_MEMLIMIT = 4 << 30  # a file asking for more is refused, not allocated
DEFAULT_SECRET = "env:GOVCHAIN_KEY_SECRET"  # what the CLI reads when not told otherwise
_warned: set[str] = set()
_warnings_into_log = False


class KeyCustodyError(ValueError):
    """A key cannot be loaded; the message names the file or URI, never key or secret.
    A ValueError, as a bad key file always was for callers of `load_signing_key`."""


class KeyFileUnreadable(KeyCustodyError, OSError):
    """The key file cannot be read (also an OSError with `strerror`, as it always was)."""

    def __init__(self, message: str, strerror: str | None) -> None:
        super().__init__(message)
        self.strerror = strerror


class Signer(Protocol):
    @property
    def public_key(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


def read_secret(spec: str | None, what: str) -> bytes:
    """The passphrase or PIN a secret spec names (`env:NAME` or `file:PATH`)."""
    if not spec:
        raise KeyCustodyError(f"{what} needs a secret (env:NAME or file:PATH), none given")
    kind, _, name = spec.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if not value:
            raise KeyCustodyError(f"{what}: environment variable {name} is not set")
        return value.encode()
    if kind == "file":
        try:
            lines = Path(name).read_bytes().splitlines()
        except OSError as e:
            raise KeyCustodyError(f"{what}: cannot read secret file {name}: {e.strerror}") from None
        if not lines or not lines[0]:
            raise KeyCustodyError(f"{what}: secret file {name} is empty")
        return lines[0]
    raise KeyCustodyError(f"{what}: secret must be env:NAME or file:PATH, not {kind!r}:…")


def check_secret_spec(spec: str, where: str) -> None:
    """Config-time check: a secret spec names a source; it is never the secret itself."""
    if not (spec.startswith("env:") or spec.startswith("file:")) or len(spec.split(":", 1)[1]) == 0:
        raise KeyCustodyError(f"{where}: must be env:NAME or file:PATH (never the secret itself)")


def _derive(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=opslimit, memlimit=memlimit
    )


def encrypt_seed(
    seed: bytes, passphrase: bytes, opslimit: int | None = None, memlimit: int | None = None
) -> bytes:
    """The encrypted key file's bytes (format above) for a 32-byte seed; the KDF cost is
    the module's (OPSLIMIT, MEMLIMIT) unless given."""
    opslimit = opslimit or OPSLIMIT
    memlimit = memlimit or MEMLIMIT
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    sealed = box.encrypt(seed, nonce).ciphertext
    data = {
        "format": FORMAT,
        "version": VERSION,
        "kdf": {"name": "argon2id", "opslimit": opslimit, "memlimit": memlimit, "salt": salt.hex()},
        "cipher": "xsalsa20-poly1305",
        "nonce": nonce.hex(),
        "ciphertext": sealed.hex(),
        "public_key": bytes(nacl.signing.SigningKey(seed).verify_key).hex(),
    }
    return json.dumps(data, sort_keys=True, indent=2).encode() + b"\n"


@dataclass(frozen=True)
class _Sealed:
    salt: bytes
    opslimit: int
    memlimit: int
    nonce: bytes
    ciphertext: bytes
    public_key: bytes


def _parse_sealed(path: Path, raw: bytes) -> _Sealed:
    bad = f"{path}: not a valid encrypted key file"
    try:
        data = json.loads(raw)
        kdf = data["kdf"]
        if data["format"] != FORMAT or data["version"] != VERSION:
            raise KeyCustodyError(f"{path}: unsupported key file format/version")
        if kdf["name"] != "argon2id" or data["cipher"] != "xsalsa20-poly1305":
            raise KeyCustodyError(f"{path}: unsupported KDF or cipher")
        sealed = _Sealed(
            bytes.fromhex(kdf["salt"]),
            int(kdf["opslimit"]),
            int(kdf["memlimit"]),
            bytes.fromhex(data["nonce"]),
            bytes.fromhex(data["ciphertext"]),
            bytes.fromhex(data["public_key"]),
        )
    except (ValueError, KeyError, TypeError):
        raise KeyCustodyError(bad) from None
    a2 = nacl.pwhash.argon2id
    if not (
        len(sealed.salt) == a2.SALTBYTES
        and len(sealed.nonce) == nacl.secret.SecretBox.NONCE_SIZE
        and a2.OPSLIMIT_MIN <= sealed.opslimit <= a2.OPSLIMIT_MAX
        and a2.MEMLIMIT_MIN <= sealed.memlimit <= MAX_MEMLIMIT
    ):
        raise KeyCustodyError(f"{bad} (KDF parameters, salt or nonce out of range)")
    return sealed


def decrypt_seed(path: Path, raw: bytes, passphrase: bytes) -> bytes:
    """The seed an encrypted key file holds; a wrong passphrase or any tampering is one
    clear error naming the file (the two cannot be told apart, by design of the MAC)."""
    s = _parse_sealed(path, raw)
    box = nacl.secret.SecretBox(_derive(passphrase, s.salt, s.opslimit, s.memlimit))
    try:
        seed = box.decrypt(s.ciphertext, s.nonce)
    except nacl.exceptions.CryptoError:
        raise KeyCustodyError(
            f"{path}: cannot decrypt the key file (wrong passphrase, or the file was altered)"
        ) from None
    if len(seed) != 32 or bytes(nacl.signing.SigningKey(seed).verify_key) != s.public_key:
        raise KeyCustodyError(f"{path}: the key file's public key does not match its key")
    return seed


def is_encrypted(raw: bytes) -> bool:
    return raw.lstrip().startswith(b"{")


def load_seed(path: Path, secret: str | None) -> bytes:
    """The seed of a key file, plaintext (warned about) or encrypted (needs `secret`)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as e:
        raise KeyFileUnreadable(
            f"{path}: key file not found (create one with `govchain keygen`)", e.strerror
        ) from None
    except OSError as e:
        raise KeyFileUnreadable(f"{path}: cannot read key file: {e.strerror}", e.strerror) from None
    if is_encrypted(raw):
        return decrypt_seed(path, raw, read_secret(secret, str(path)))
    try:  # never chain the cause: it could quote key material
        seed = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise KeyCustodyError(f"{path}: key file is not hex (a 32-byte seed)") from None
    if len(seed) != 32:
        raise KeyCustodyError(f"{path}: key file must hold a 32-byte seed")
    warn_plaintext(path)
    return seed


def warn_plaintext(path: Path) -> None:
    """Once per file and process: a key in plaintext does not meet key-custody rules. Into
    the log where logging is set up (a node), else one line on stderr (a CLI command,
    whose stdout is its answer)."""
    if str(path) in _warned:
        return
    _warned.add(str(path))
    what = (
        "PLAINTEXT KEY FILE: the key sits unencrypted on disk; move it to an encrypted "
        "file (govchain keygen --encrypt) or a PKCS#11 token"
    )
    if _warnings_into_log:
        log.warning(what, path=str(path))
    else:
        print(f"warning: {path}: {what}", file=sys.stderr)


def warnings_into_log() -> None:
    """From now on key warnings go into the log (a process that set its logging up: a node,
    the watcher). Not `structlog.is_configured()`: structlog's own test helpers leave that
    true with the default logger, which writes to stdout, a command's answer."""
    global _warnings_into_log
    _warnings_into_log = True


def is_token_uri(spec: object) -> bool:
    """A key spec naming a token key rather than a file."""
    return str(spec).startswith("pkcs11:")


def load_signer(spec: str | Path, secret: str | None = None) -> Signer:
    """A consensus Signer for a key spec: nacl for files (fast), the token for a URI."""
    from client import pkcs11_token  # only a token key needs the PKCS#11 module

    if is_token_uri(spec):
        pin = read_secret(secret, str(spec).split("?")[0]).decode()
        try:
            return pkcs11_token.TokenSigner(str(spec), pin)
        except pkcs11_token.TokenError as e:
            raise KeyCustodyError(str(e)) from None
    return Ed25519Signer(load_seed(Path(spec), secret))


class _Signed:
    """What nacl's SignedMessage offers that callers use: the detached signature."""

    def __init__(self, signature: bytes, message: bytes) -> None:
        self.signature = signature
        self.message = message


class SignerKey:
    """A Signer in nacl SigningKey's shape (`sign(m).signature`, `verify_key`), so tx
    signing (`chains.tx.encode_tx`, proposal approvals) works with a token key unchanged."""

    def __init__(self, signer: Signer) -> None:
        self.signer = signer
        self.verify_key = nacl.signing.VerifyKey(signer.public_key)

    def sign(self, message: bytes) -> _Signed:
        return _Signed(self.signer.sign(message), message)

    def __repr__(self) -> str:
        return f"SignerKey({self.signer!r})"


def load_signing_key(
    spec: str | Path, secret: str | None = DEFAULT_SECRET
) -> nacl.signing.SigningKey | SignerKey:
    """A tx-signing key for a key spec: a nacl SigningKey for a file, a SignerKey for a token."""
    if is_token_uri(spec):
        return SignerKey(load_signer(spec, secret))
    return nacl.signing.SigningKey(load_seed(Path(spec), secret))


def write_encrypted_key(
    path: Path,
    passphrase: bytes,
    seed: bytes | None = None,
    opslimit: int | None = None,
    memlimit: int | None = None,
) -> bytes:
    """A new (or the given) key, encrypted, in a file only its owner can read; its public key."""
    seed = seed if seed is not None else bytes(nacl.signing.SigningKey.generate())
    data = encrypt_seed(seed, passphrase, opslimit, memlimit)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return bytes(nacl.signing.SigningKey(seed).verify_key)
