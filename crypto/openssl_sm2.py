"""SM2 signatures and encryption through the system's OpenSSL 3 (libcrypto), by ctypes.

Why this way (docs/compliance.md, "Crypto suites: implementations measured"): the system's
OpenSSL is the best-kept SM2 implementation reachable from here (Debian's security
updates reach it), it is as fast as any candidate measured, and ctypes drops the GIL
around every foreign call, so verifier threads on free cores verify in parallel (the C
extension `gmalglib` holds the GIL: two threads give one's rate). `cryptography` links
its own OpenSSL but exposes only SM3 and SM4, not SM2.

Keys and signatures cross this module as fixed-length bytes: a private key is the scalar
d (32 bytes big-endian, 1 <= d <= n - 2), a public key the uncompressed point 04 | X | Y
(65 bytes), a signature r | s (64 bytes). OpenSSL wants DER; the conversion is here, so
the suite never sees an encoding with two spellings. Every check returns False on bad
input rather than raising: a peer's garbage is normal operation.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import threading
from collections import OrderedDict

# GB/T 32918.5 recommended curve sm2p256v1: the group order.
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
# GB/T 32918.2 section 5.5: the user ID when none is agreed ("1234567812345678").
DEFAULT_USER_ID = b"1234567812345678"
PRIVATE_KEY_BYTES = 32
PUBLIC_KEY_BYTES = 65
SIGNATURE_BYTES = 64

# SubjectPublicKeyInfo { {id-ecPublicKey, sm2p256v1}, BIT STRING 04|X|Y } before the point.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
# ECPrivateKey { 1, OCTET STRING d, [0] sm2p256v1 } around the scalar.
_ECKEY_PREFIX = bytes.fromhex("30310201010420")
_ECKEY_SUFFIX = bytes.fromhex("a00a06082a811ccf5501822d")
_EVP_PKEY_EC = 408
_KEYS_CACHED_MAX = 4096
# a | b | x_G | y_G of sm2p256v1, the curve part of Z_A.
_CURVE_ABG = bytes.fromhex(
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0"
)


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
    vp, sz, cp = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p
    signatures = {
        "OpenSSL_version_num": ([], ctypes.c_ulong),
        "d2i_PUBKEY": ([vp, ctypes.POINTER(cp), ctypes.c_long], vp),
        "d2i_PrivateKey": ([ctypes.c_int, vp, ctypes.POINTER(cp), ctypes.c_long], vp),
        "i2d_PUBKEY": ([vp, ctypes.POINTER(ctypes.c_void_p)], ctypes.c_int),
        "EVP_PKEY_free": ([vp], None),
        "EVP_PKEY_CTX_new": ([vp, vp], vp),
        "EVP_PKEY_CTX_free": ([vp], None),
        "EVP_PKEY_encrypt_init": ([vp], ctypes.c_int),
        "EVP_PKEY_encrypt": ([vp, cp, ctypes.POINTER(sz), cp, sz], ctypes.c_int),
        "EVP_PKEY_decrypt_init": ([vp], ctypes.c_int),
        "EVP_PKEY_decrypt": ([vp, cp, ctypes.POINTER(sz), cp, sz], ctypes.c_int),
        "EVP_PKEY_sign_init": ([vp], ctypes.c_int),
        "EVP_PKEY_sign": ([vp, cp, ctypes.POINTER(sz), cp, sz], ctypes.c_int),
        "EVP_PKEY_verify_init": ([vp], ctypes.c_int),
        "EVP_PKEY_verify": ([vp, cp, sz, cp, sz], ctypes.c_int),
        "CRYPTO_free": ([vp, cp, ctypes.c_int], None),
        "ERR_clear_error": ([], None),
    }
    for name, (args, result) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = args, result
    if lib.OpenSSL_version_num() < 0x30000000:
        raise ImportError("SM2 needs OpenSSL 3 (its SM2 keys and distinguishing-ID API)")
    return lib


_LIB = _load()


class _Key:
    """An EVP_PKEY owned by Python: freed when the last reference goes."""

    __slots__ = ("pointer",)

    def __init__(self, pointer: int) -> None:
        self.pointer = pointer

    # bound now: at interpreter exit the module's globals may be gone before the last key
    def __del__(self, _free: ctypes._CFuncPtr = _LIB.EVP_PKEY_free) -> None:
        _free(self.pointer)


def _parse(der: bytes, private: bool) -> _Key | None:
    buffer = ctypes.c_char_p(der)
    if private:
        pointer = _LIB.d2i_PrivateKey(_EVP_PKEY_EC, None, ctypes.byref(buffer), len(der))
    else:
        pointer = _LIB.d2i_PUBKEY(None, ctypes.byref(buffer), len(der))
    if not pointer:
        _LIB.ERR_clear_error()
        return None
    return _Key(pointer)


_public_keys: OrderedDict[bytes, _Key | None] = OrderedDict()
_private_keys: OrderedDict[bytes, _Key] = OrderedDict()
_z_values: dict[bytes, bytes] = {}
_own_public_keys: dict[bytes, bytes] = {}


def _public_key(public_key: bytes) -> _Key | None:
    """The parsed key (OpenSSL checks the point is on the curve), or None; remembered,
    because a validator set signs over and over with the same few keys."""
    key = _public_keys.get(public_key)
    if key is None and public_key not in _public_keys:
        ok = len(public_key) == PUBLIC_KEY_BYTES and public_key[0] == 4
        key = _parse(_SPKI_PREFIX + public_key, private=False) if ok else None
        _public_keys[public_key] = key
        while len(_public_keys) > _KEYS_CACHED_MAX:
            _public_keys.popitem(last=False)
    return key


def _private_key(private_key: bytes) -> _Key:
    key = _private_keys.get(private_key)
    if key is None:
        d = int.from_bytes(private_key, "big") if len(private_key) == PRIVATE_KEY_BYTES else 0
        if not 1 <= d <= N - 2:
            raise ValueError("an SM2 private key is a 32-byte scalar in [1, n - 2]")
        key = _parse(_ECKEY_PREFIX + private_key + _ECKEY_SUFFIX, private=True)
        if key is None:
            raise ValueError("OpenSSL refused the SM2 private key")
        _private_keys[private_key] = key
        while len(_private_keys) > 16:
            _private_keys.popitem(last=False)
    return key


def private_key_from_seed(seed: bytes) -> bytes:
    """A scalar in [1, n - 2] from a seed of at least 32 bytes: 512 bits of SM3 output
    under a domain label, reduced mod n - 2 (a bias below 2^-250), so key files keep
    holding 32-byte seeds as Ed25519 ones do."""
    if len(seed) < 32:
        raise ValueError("an SM2 key seed has at least 32 bytes")
    label = b"govchain sm2 private key|"
    wide = b"".join(hashlib.new("sm3", label + bytes([i]) + seed).digest() for i in (0, 1))
    return (int.from_bytes(wide, "big") % (N - 2) + 1).to_bytes(32, "big")


def public_key_of(private_key: bytes) -> bytes:
    """04 | X | Y of d·G, as OpenSSL computes it from the scalar."""
    known = _own_public_keys.get(private_key)
    if known is not None:
        return known
    out = ctypes.c_void_p()
    length = _LIB.i2d_PUBKEY(_private_key(private_key).pointer, ctypes.byref(out))
    if length <= 0:
        raise ValueError("OpenSSL could not encode the SM2 public key")
    der = ctypes.string_at(out, length)
    _LIB.CRYPTO_free(out, None, 0)
    if len(_own_public_keys) >= 16:
        _own_public_keys.clear()
    _own_public_keys[private_key] = der[len(_SPKI_PREFIX) :]
    return der[len(_SPKI_PREFIX) :]


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(33, "big").lstrip(b"\x00")
    if body[0] & 0x80:
        body = b"\x00" + body
    return b"\x02" + bytes([len(body)]) + body


def _signature_to_der(signature: bytes) -> bytes:
    body = _der_integer(int.from_bytes(signature[:32], "big"))
    body += _der_integer(int.from_bytes(signature[32:], "big"))
    return b"\x30" + bytes([len(body)]) + body


def _signature_from_der(der: bytes) -> bytes:
    """r | s from OpenSSL's SEQUENCE { INTEGER r, INTEGER s } (short form lengths only:
    a 256-bit curve's signature never needs more)."""
    r_length = der[3]
    r = int.from_bytes(der[4 : 4 + r_length], "big")
    s = int.from_bytes(der[6 + r_length :], "big")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class _Context:
    """An EVP_PKEY_CTX initialised for sign or verify with one key. Initialising costs
    about as much as a verification (OpenSSL 3 fetches the algorithm), so each thread
    keeps one per key; a context is never shared between threads."""

    __slots__ = ("key", "pointer")

    def __init__(self, key: _Key, signing: bool) -> None:
        self.key = key  # keeps the EVP_PKEY alive as long as its context
        self.pointer = _LIB.EVP_PKEY_CTX_new(key.pointer, None)
        init = _LIB.EVP_PKEY_sign_init if signing else _LIB.EVP_PKEY_verify_init
        if not self.pointer or init(self.pointer) != 1:
            raise MemoryError("OpenSSL could not set up an SM2 context")

    def __del__(self, _free: ctypes._CFuncPtr = _LIB.EVP_PKEY_CTX_free) -> None:
        _free(self.pointer)


_local = threading.local()


def _context(cache_key: bytes, key: _Key, signing: bool) -> _Context:
    contexts: OrderedDict[bytes, _Context] | None = getattr(_local, "contexts", None)
    if contexts is None:
        contexts = _local.contexts = OrderedDict()
    context = contexts.get(cache_key)
    if context is None:
        context = contexts[cache_key] = _Context(key, signing)
        while len(contexts) > _KEYS_CACHED_MAX:
            contexts.popitem(last=False)
    return context


def z_value(public_key: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z_A = SM3(ENTL_A | ID_A | a | b | x_G | y_G | x_A | y_A) (GB/T 32918.2, 5.5)."""
    entl = (len(user_id) * 8).to_bytes(2, "big")
    return hashlib.new("sm3", entl + user_id + _CURVE_ABG + public_key[1:]).digest()


def _e(public_key: bytes, message: bytes, user_id: bytes) -> bytes:
    z = _z_values.get(public_key) if user_id == DEFAULT_USER_ID else None
    if z is None:
        z = z_value(public_key, user_id)
        if user_id == DEFAULT_USER_ID and len(_z_values) < _KEYS_CACHED_MAX:
            _z_values[public_key] = z
    return hashlib.new("sm3", z + message).digest()


def sign(private_key: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """GB/T 32918.2 signature (e = SM3(Z_A | M), Z_A from the user ID and the key):
    r | s. Randomised: two signatures of one message differ, and both verify."""
    key = _private_key(private_key)
    e = _e(public_key_of(private_key), message, user_id)
    context = _context(b"s" + private_key, key, signing=True)
    out, length = ctypes.create_string_buffer(80), ctypes.c_size_t(80)
    if _LIB.EVP_PKEY_sign(context.pointer, out, ctypes.byref(length), e, len(e)) != 1:
        _LIB.ERR_clear_error()
        raise ValueError("OpenSSL failed to make an SM2 signature")
    return _signature_from_der(out.raw[: length.value])


def verify(
    public_key: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_USER_ID
) -> bool:
    """True only for a valid GB/T 32918.2 signature r | s with 1 <= r, s <= n - 1 by a
    point on the curve."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    key = _public_key(public_key)
    if key is None or not (0 < r < N and 0 < s < N):
        return False
    der = _signature_to_der(signature)
    e = _e(public_key, message, user_id)
    context = _context(b"v" + public_key, key, signing=False)
    if _LIB.EVP_PKEY_verify(context.pointer, der, len(der), e, len(e)) == 1:
        return True
    _LIB.ERR_clear_error()
    return False


def _crypt(key: _Key, data: bytes, encrypt: bool) -> bytes | None:
    ctx = _LIB.EVP_PKEY_CTX_new(key.pointer, None)
    init, run = (
        (_LIB.EVP_PKEY_encrypt_init, _LIB.EVP_PKEY_encrypt)
        if encrypt
        else (_LIB.EVP_PKEY_decrypt_init, _LIB.EVP_PKEY_decrypt)
    )
    try:
        length = ctypes.c_size_t(0)
        if init(ctx) != 1 or run(ctx, None, ctypes.byref(length), data, len(data)) != 1:
            return None
        out = ctypes.create_string_buffer(length.value)
        if run(ctx, out, ctypes.byref(length), data, len(data)) != 1:
            return None
        return out.raw[: length.value]
    finally:
        _LIB.ERR_clear_error()
        _LIB.EVP_PKEY_CTX_free(ctx)


def encrypt(public_key: bytes, plaintext: bytes) -> bytes:
    """GB/T 32918.4 public-key encryption, in GM/T 0009's DER form SEQUENCE { x, y, C3
    (SM3 hash), C2 }: a fresh ephemeral key per call, so the sender stays anonymous."""
    key = _public_key(public_key)
    if key is None:
        raise ValueError("not an SM2 public key on sm2p256v1")
    sealed = _crypt(key, plaintext, encrypt=True) if plaintext else None
    if sealed is None:
        raise ValueError("SM2 encryption needs a non-empty plaintext")
    return sealed


def _is_one_der_sequence(data: bytes) -> bool:
    """True if `data` is exactly one DER SEQUENCE: OpenSSL's decoder ignores bytes after
    it, and a sealed value with two spellings is one too many."""
    if len(data) < 2 or data[0] != 0x30:
        return False
    header, length = 2, data[1]
    if length >= 0x80:
        count = length & 0x7F
        if not 1 <= count <= 3:
            return False
        header, length = 2 + count, int.from_bytes(data[2 : 2 + count], "big")
    return header + length == len(data)


def decrypt(private_key: bytes, ciphertext: bytes) -> bytes | None:
    """The plaintext, or None if the ciphertext is malformed or its C3 check fails."""
    if not _is_one_der_sequence(ciphertext):
        return None
    return _crypt(_private_key(private_key), ciphertext, encrypt=False)
