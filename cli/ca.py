"""`govchain ca revoke|crl`: the consortium CA's certificate revocation list.

The CA directory is the one `govchain testnet init` writes (`tls/`): `ca.crt`, `ca.key`
and the CRL `ca.crl` beside them. `revoke` adds a certificate the CA issued to the CRL
and re-signs it (CRL number + 1); `crl` lists it, and with `--renew` re-signs it with a
new next update (writing an empty one if there is none yet). The file is replaced
atomically, so a node re-reading it (node/crl.py) never sees half a CRL. Copy `ca.crl`
to every node that names it in `[tls] crl`; each picks it up without a restart.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from client.tls import TlsError
from node.crl import (
    CRL_DAYS,
    CRL_FILE,
    CrlError,
    crl_number,
    entry_reason,
    is_stale,
    read_crl,
    revoked_entry,
    sign_crl,
)
from node.tls import Authority

REASONS = [r.name for r in x509.ReasonFlags if r is not x509.ReasonFlags.remove_from_crl]


def _authority(ca_dir: Path) -> Authority:
    return Authority.load(ca_dir / "ca.crt", ca_dir / "ca.key")


def _current(ca_dir: Path, ca: x509.Certificate) -> x509.CertificateRevocationList | None:
    path = ca_dir / CRL_FILE
    return read_crl(path, ca) if path.exists() else None


def _write(ca_dir: Path, pem: bytes) -> Path:
    """Replace the CRL atomically (write a temporary file, then rename it)."""
    path = ca_dir / CRL_FILE
    tmp = path.with_name(f".{CRL_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(pem)
    os.replace(tmp, path)
    return path


def _load_cert(path: Path, ca: x509.Certificate) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as e:
        raise CrlError(f"cannot read the certificate {path}: {e}") from e
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as e:
        raise CrlError(f"{path}: not a certificate this CA issued ({e})") from e
    return cert


def cmd_ca_revoke(args: argparse.Namespace) -> int:
    try:
        ca = _authority(args.ca_dir)
        cert = _load_cert(args.cert, ca.cert)
        current = _current(args.ca_dir, ca.cert)
    except (CrlError, TlsError) as e:
        print(f"ca revoke: {e}", file=sys.stderr)
        return 2
    entries = list(current) if current is not None else []
    name = cert.subject.rfc4514_string()
    if any(e.serial_number == cert.serial_number for e in entries):
        print(f"{name} (serial {cert.serial_number:x}) is already revoked")
        return 0
    entries.append(revoked_entry(cert.serial_number, x509.ReasonFlags[args.reason]))
    number = (crl_number(current) if current is not None else 0) + 1
    path = _write(args.ca_dir, sign_crl(ca, entries, number, args.days))
    print(f"revoked {name} (serial {cert.serial_number:x}, {args.reason}): {path}, CRL {number}")
    return 0


def cmd_ca_crl(args: argparse.Namespace) -> int:
    try:
        ca = _authority(args.ca_dir) if args.renew else None
        cert = ca.cert if ca is not None else _ca_cert(args.ca_dir)
        current = _current(args.ca_dir, cert)
    except (CrlError, TlsError) as e:
        print(f"ca crl: {e}", file=sys.stderr)
        return 2
    if ca is not None:
        entries = list(current) if current is not None else []
        number = (crl_number(current) if current is not None else 0) + 1
        _write(args.ca_dir, sign_crl(ca, entries, number, args.days))
        current = _current(args.ca_dir, cert)
    if current is None:
        print(f"no CRL at {args.ca_dir / CRL_FILE} (`govchain ca crl --renew` writes one)")
        return 0
    _print(current, args.ca_dir / CRL_FILE)
    return 0


def _ca_cert(ca_dir: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    except (OSError, ValueError) as e:
        raise CrlError(f"cannot read the CA certificate {ca_dir / 'ca.crt'}: {e}") from e


def _print(crl: x509.CertificateRevocationList, path: Path) -> None:
    stale = is_stale(crl, datetime.datetime.now(datetime.UTC))
    print(f"{path}: CRL {crl_number(crl)} of {crl.issuer.rfc4514_string()}")
    print(f"  this update {crl.last_update_utc:%Y-%m-%d %H:%M}Z", end="")
    if crl.next_update_utc is not None:
        print(f", next update {crl.next_update_utc:%Y-%m-%d %H:%M}Z", end="")
    print(" (PAST: re-sign it with --renew)" if stale else "")
    print(f"  {len(crl)} revoked")
    for e in crl:
        when = f"{e.revocation_date_utc:%Y-%m-%d %H:%M}Z"
        print(f"  serial {e.serial_number:x}  {when}  {entry_reason(e)}")


def add_ca_parser(sub: argparse._SubParsersAction) -> None:
    """`govchain ca …`: revoke certificates the consortium CA issued, list the CRL."""
    c = sub.add_parser("ca", help="the consortium CA's revocation list").add_subparsers(
        dest="action", required=True
    )
    r = c.add_parser("revoke", help="revoke a node or client certificate (re-signs the CRL)")
    r.add_argument(
        "--ca-dir", metavar="DIR", type=Path, required=True, help="ca.crt, ca.key and ca.crl"
    )
    r.add_argument(
        "--cert", metavar="FILE", type=Path, required=True, help="the certificate to revoke (PEM)"
    )
    r.add_argument(
        "--reason", metavar="REASON", choices=REASONS, default="unspecified", help="RFC 5280 reason"
    )
    r.add_argument(
        "--days", metavar="N", type=int, default=CRL_DAYS, help="days until the CRL's next update"
    )
    r.set_defaults(func=cmd_ca_revoke)
    p = c.add_parser("crl", help="list the CRL; --renew re-signs it")
    p.add_argument(
        "--ca-dir", metavar="DIR", type=Path, required=True, help="ca.crt (ca.key with --renew)"
    )
    p.add_argument("--renew", action="store_true", help="re-sign with a new next update")
    p.add_argument(
        "--days", metavar="N", type=int, default=CRL_DAYS, help="days until the next update"
    )
    p.set_defaults(func=cmd_ca_crl)
