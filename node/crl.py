"""Certificate revocation: the consortium CA's CRL, checked on every inbound call.

gRPC Python's SSL credentials take root certificates but no CRL (the core's
`crl_directory` option is not exposed to Python, and `dynamic_ssl_server_credentials`
can only swap the server's own certificate and roots), so a revoked certificate still
completes the TLS handshake. It is refused at its first call instead, and on each frame
of a stream it already holds: `RevocationGuard` reads the caller's certificate from the
call's auth context, and a revoked one is answered UNAUTHENTICATED with the reason.

The CRL is a file (`ca.crl` beside the CA, written by `govchain ca revoke`). Its
signature must be the CA's: a CRL the CA did not sign is refused at start (the node
does not start), and at reload it is logged and the previous one kept. The file is
re-read only when its stat (mtime, size, inode) changes: one stat per check, and the
certificate's serial is parsed once per distinct certificate.

A CRL past its next update is still enforced (a revocation never lapses) and warned
about at every load; refusing everyone because the CA was late to re-sign would make
an outage of a bookkeeping slip. `govchain ca crl --renew` re-signs it.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from client.tls import TlsFiles
from node.config import ConfigError
from node.interceptors import CheckingInterceptor
from node.logsampling import SampledLog
from node.tls import Authority, peer_common_name, validator_dns_name, validator_key_of_peer

log = structlog.get_logger("crl")

CRL_FILE = "ca.crl"  # in the CA directory, beside ca.crt and ca.key
CRL_DAYS = 90  # a new CRL's next update, unless `--days` says otherwise
SERIALS_CACHED_MAX = 4096  # certificates whose serial is remembered (PEM -> serial)
# How stale an open stream's view of the CRL file may be: its frames look at the file at
# most this often (a new call always looks).
FRAME_RECHECK_S = 0.1


class CrlError(Exception):
    """A CRL that cannot be read, or was not signed by the consortium CA."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --------------------------------------------------------------------- reading


def parse_crl(data: bytes, ca: x509.Certificate, where: str) -> x509.CertificateRevocationList:
    """The CRL in `data` (PEM or DER), checked to be issued and signed by `ca`."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
    except ValueError as e:
        raise CrlError(f"{where}: not a CRL: {e}") from e
    if crl.issuer != ca.subject:
        raise CrlError(f"{where}: issued by {crl.issuer.rfc4514_string()}, not the consortium CA")
    if not crl.is_signature_valid(ca.public_key()):  # type: ignore[arg-type]
        raise CrlError(f"{where}: its signature is not the consortium CA's")
    return crl


def read_crl(path: Path, ca: x509.Certificate) -> x509.CertificateRevocationList:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CrlError(f"cannot read the CRL {path}: {e.strerror}") from e
    return parse_crl(data, ca, str(path))


def is_stale(crl: x509.CertificateRevocationList, now: datetime.datetime) -> bool:
    """Past its next update (still enforced; see the module docstring)."""
    next_update = crl.next_update_utc
    return next_update is not None and now > next_update


def entry_reason(entry: x509.RevokedCertificate) -> str:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return "unspecified"


# --------------------------------------------------------------------- signing


def sign_crl(
    ca: Authority,
    entries: list[x509.RevokedCertificate],
    number: int,
    days: int = CRL_DAYS,
    now: datetime.datetime | None = None,
) -> bytes:
    """A CRL (PEM) the CA signs: `entries`, CRL number `number`, valid `days` days."""
    now = now or _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    for entry in entries:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def revoked_entry(
    serial: int, reason: x509.ReasonFlags | None, when: datetime.datetime | None = None
) -> x509.RevokedCertificate:
    """One CRL entry; an unspecified reason is left out (RFC 5280, 5.3.1)."""
    builder = x509.RevokedCertificateBuilder().serial_number(serial)
    builder = builder.revocation_date(when or _now())
    if reason is not None and reason != x509.ReasonFlags.unspecified:
        builder = builder.add_extension(x509.CRLReason(reason), critical=False)
    return builder.build()


def crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


# --------------------------------------------------------------------- the node's copy


@dataclass
class _Loaded:
    revoked: dict[int, str]  # serial -> "reason, since date"
    next_update: datetime.datetime | None
    number: int


class RevocationList:
    """The node's CRL file: checked against the CA, re-read when it changes on disk."""

    def __init__(
        self,
        path: Path,
        ca_cert: Path,
        clock: Callable[[], datetime.datetime] = _now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Raises CrlError if the CA or the CRL cannot be read or the CRL is not the CA's:
        a node told to enforce a CRL does not start without one."""
        self.path = Path(path)
        self.clock = clock
        try:
            self.ca = x509.load_pem_x509_certificate(Path(ca_cert).read_bytes())
        except (OSError, ValueError) as e:
            raise CrlError(f"cannot read the CA certificate {ca_cert}: {e}") from e
        self._stat = self._stat_key()
        self._loaded = self._load()
        self.generation = 0  # one more for each CRL loaded after the first
        self.monotonic = monotonic
        self._looked_at = monotonic()
        self.reload_failures = 0
        self._serials: OrderedDict[bytes, int] = OrderedDict()

    def _stat_key(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> _Loaded:
        crl = read_crl(self.path, self.ca)
        revoked = {
            e.serial_number: f"{entry_reason(e)}, since {e.revocation_date_utc:%Y-%m-%d %H:%M}Z"
            for e in crl
        }
        loaded = _Loaded(revoked, crl.next_update_utc, crl_number(crl))
        fields = dict(path=str(self.path), number=loaded.number, revoked=len(revoked))
        if is_stale(crl, self.clock()):
            log.warning("CRL past its next update: still enforced; re-sign it", **fields)
        else:
            log.info("CRL loaded", **fields)
        return loaded

    @property
    def next_update(self) -> datetime.datetime | None:
        return self._loaded.next_update

    @property
    def revoked_count(self) -> int:
        return len(self._loaded.revoked)

    def refresh(self, max_age_s: float = 0.0) -> None:
        """Re-read the file if its stat changed; a bad new file is logged (once per
        change) and the previous CRL kept. With `max_age_s`, the file is not looked at
        again until that long after the last look (a stream's frames: a `stat` per frame
        was 3 % of a loaded node's time)."""
        now = self.monotonic()
        if max_age_s and now - self._looked_at < max_age_s:
            return
        self._looked_at = now
        stat = self._stat_key()
        if stat == self._stat:
            return
        self._stat = stat
        try:
            self._loaded = self._load()
            self.generation += 1
        except CrlError as e:
            self.reload_failures += 1
            log.error("CRL not reloaded: the previous one stays in force", why=str(e))

    def _serial(self, pem: bytes) -> int | None:
        serial = self._serials.get(pem)
        if serial is None:
            try:
                serial = x509.load_pem_x509_certificate(pem).serial_number
            except ValueError:
                return None
            self._serials[pem] = serial
            if len(self._serials) > SERIALS_CACHED_MAX:
                self._serials.popitem(last=False)
        return serial

    def why_revoked(self, cert_pem: bytes, max_age_s: float = 0.0) -> str | None:
        """Why this certificate is revoked (its serial, reason and date), or None; the
        file is looked at first (see `refresh` for `max_age_s`)."""
        self.refresh(max_age_s)
        serial = self._serial(cert_pem)
        if serial is None:
            return None
        entry = self._loaded.revoked.get(serial)
        if entry is None:
            return None
        return f"TLS certificate revoked by the consortium CA (serial {serial:x}: {entry})"


# --------------------------------------------------------------------- the guard


class RevocationGuard(CheckingInterceptor):
    """Refuses every call, and every frame of a stream, from a revoked certificate;
    counts the refusals by caller kind and logs them sampled per certificate name."""

    def __init__(self, crl: RevocationList, refusals: SampledLog) -> None:
        super().__init__()
        self.crl = crl
        self.refusals = refusals
        self.refused = {"client": 0, "validator": 0}

    def stamp(self) -> object:
        """The CRL in force (looked at again at most every FRAME_RECHECK_S): a stream's
        frames are checked again only when it changed. A new call is always checked
        against the file as it is now (`why_revoked` looks at it)."""
        self.crl.refresh(FRAME_RECHECK_S)
        return self.crl.generation

    async def check(self, context: grpc.aio.ServicerContext, method: str) -> None:
        pem = b"".join(context.auth_context().get("x509_pem_cert", ()))
        if not pem:
            return  # plaintext (insecure mode has no CRL) or no certificate shown
        why = self.crl.why_revoked(pem)
        if why is None:
            return
        key = validator_key_of_peer(context)
        pool = "client" if key is None else "validator"
        self.refused[pool] += 1
        name = peer_common_name(context) or context.peer()
        self.refusals.warning(
            name, "revoked certificate refused", caller=name, method=method, why=why
        )
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, why)


def revocation_guard(tls: TlsFiles | None, refusals: SampledLog) -> RevocationGuard | None:
    """The guard for a node whose `[tls]` names a CRL, else None; ConfigError (the node
    does not start) if that CRL cannot be read or is not the consortium CA's."""
    if tls is None or tls.crl is None:
        return None
    try:
        return RevocationGuard(RevocationList(tls.crl, tls.ca), refusals)
    except CrlError as e:
        raise ConfigError(f"[tls] crl: {e}") from None


# --------------------------------------------------------------------- outgoing links


class OutboundRevocation:
    """The other direction: before a peer link sends anything, and whenever the CRL
    changes while it sends, the certificate the peer shows is checked too. gRPC's client
    does not expose the server's certificate, so the link makes one TLS handshake of its
    own (mutual, ALPN h2, the peer's key-bound name) to read it. Without this a revoked
    validator, refused when it calls, would still be sent every block."""

    PROBE_TIMEOUT_S = 5.0

    def __init__(self, crl: RevocationList, tls: TlsFiles) -> None:
        self.crl = crl
        self.tls = tls

    async def certificate(self, address: str, public_key: bytes) -> bytes | None:
        """The PEM certificate the peer at `address` shows, or None if it cannot be
        reached (the link's own connection attempt then fails and backs off as usual)."""
        context = ssl.create_default_context(cafile=str(self.tls.ca))
        context.load_cert_chain(str(self.tls.cert), str(self.tls.key))
        context.set_alpn_protocols(["h2"])
        host, _, port = address.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host, int(port), ssl=context, server_hostname=validator_dns_name(public_key)
                ),
                self.PROBE_TIMEOUT_S,
            )
        except (OSError, ssl.SSLError, TimeoutError, ValueError):
            return None
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
        return ssl.DER_cert_to_PEM_cert(der).encode() if der else None

    def why_revoked(self, pem: bytes) -> str | None:
        """Asked each time a link wakes to send: the file is looked at most every
        FRAME_RECHECK_S, as for an incoming stream's frames."""
        return self.crl.why_revoked(pem, FRAME_RECHECK_S)


def outbound_revocation(
    guard: RevocationGuard | None, tls: TlsFiles | None
) -> OutboundRevocation | None:
    return None if guard is None or tls is None else OutboundRevocation(guard.crl, tls)
