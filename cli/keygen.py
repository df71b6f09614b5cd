"""`govchain keygen`: a new Ed25519 key, in the custody the operator asks for.

- `--out FILE`: a hex seed file, mode 0600 (what testnets use; warned about at load);
- `--out FILE --encrypt`: an encrypted key file (client/keys.py: Argon2id + XSalsa20-Poly1305);
- `--token URI`: a key pair generated inside a PKCS#11 token (client/pkcs11_token.py);
- `--import FILE` with either: the key of an existing key file instead of a new one (moving
  a validator key that genesis already names into an encrypted file or a token).

The passphrase or PIN comes from `--secret env:NAME|file:PATH`, else a prompt when a
terminal is attached; never from the command line itself (it would sit in shell history
and in `ps`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from cli.testnet_files import write_key
from client.keys import KeyCustodyError, load_seed, read_secret, write_encrypted_key


def _secret(args: argparse.Namespace, what: str, confirm: bool) -> bytes:
    if args.secret:
        return read_secret(args.secret, "--secret")
    if not sys.stdin.isatty():
        raise KeyCustodyError(f"{what}: give --secret env:NAME or file:PATH (no terminal)")
    first = getpass.getpass(f"{what}: ").encode()
    if not first:
        raise KeyCustodyError(f"{what}: empty")
    if confirm and getpass.getpass(f"{what} (again): ").encode() != first:
        raise KeyCustodyError(f"{what}: the two entries differ")
    return first


def _keygen(args: argparse.Namespace) -> bytes:
    """The new key's public key; raises KeyCustodyError (or TokenError) on any refusal."""
    seed = load_seed(args.import_file, None) if args.import_file else None
    if args.token:
        from client.pkcs11_token import create_token_key

        return create_token_key(args.token, _secret(args, "token PIN", False).decode(), seed)
    if args.out.exists() and not args.force:
        raise KeyCustodyError(f"{args.out} exists; use --force to overwrite")
    if args.encrypt:
        return write_encrypted_key(args.out, _secret(args, "passphrase", True), seed)
    if seed is not None:
        raise KeyCustodyError("--import copies a key into --encrypt or --token custody only")
    return write_key(args.out)


def cmd_keygen(args: argparse.Namespace) -> int:
    from client.pkcs11_token import TokenError

    if bool(args.out) == bool(args.token) or (args.encrypt and not args.out):
        print("keygen: give --out FILE [--encrypt] or --token URI", file=sys.stderr)
        return 2
    try:
        public = _keygen(args)
    except (KeyCustodyError, TokenError) as e:
        print(f"keygen: {e}", file=sys.stderr)
        return 2
    print(public.hex())
    return 0


def add_keygen_parser(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser(
        "keygen", help="create an Ed25519 key: a key file (hex or encrypted) or in a token"
    )
    k.add_argument("--out", type=Path, help="the key file to write")
    k.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    k.add_argument("--encrypt", action="store_true", help="encrypt --out with a passphrase")
    k.add_argument("--token", help="pkcs11:token=T;object=O: generate the key in this token")
    k.add_argument(
        "--secret", help="env:NAME or file:PATH: the passphrase or token PIN (else a prompt)"
    )
    k.add_argument(
        "--import", dest="import_file", type=Path, help="store this key file's key instead"
    )
    k.set_defaults(func=cmd_keygen)
