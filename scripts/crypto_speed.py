#!/usr/bin/env python3
"""Measure the SM2/SM3 implementations a `sm2-sm3` suite could use, beside Ed25519.

For each candidate that is importable: SM2 verifications and signatures per second on one
thread, verifications per second on two threads (if the library releases the GIL, two
threads on two free cores give about twice one thread's rate), and SM3 MB/s over 64 KiB
messages. Each figure is the median of --runs runs of --seconds each. The project installs
only the one it uses (pyproject.toml); to compare the others, install them into a scratch
venv beside it (docs/compliance.md gives the command):

    python scripts/crypto_speed.py [--seconds 1] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MESSAGE = b"govchain tx body " * 8  # about the size of a small tx body
USER_ID = b"1234567812345678"
HASH_INPUT = os.urandom(64 * 1024)

# name -> (sign(), verify() -> bool, sm3(data) or None)
Candidate = tuple[Callable[[], bytes], Callable[[], bool], Callable[[bytes], bytes] | None]


def ed25519_pynacl() -> Candidate:
    import nacl.bindings
    import nacl.signing

    key = nacl.signing.SigningKey(os.urandom(32))
    public, signed = bytes(key.verify_key), key.sign(MESSAGE)
    return (
        lambda: key.sign(MESSAGE).signature,
        lambda: bool(nacl.bindings.crypto_sign_open(bytes(signed), public)),
        None,
    )


def sm2_openssl_ctypes() -> Candidate:
    from crypto import openssl_sm2

    private = openssl_sm2.private_key_from_seed(os.urandom(32))
    public = openssl_sm2.public_key_of(private)
    signature = openssl_sm2.sign(private, MESSAGE)
    return (
        lambda: openssl_sm2.sign(private, MESSAGE),
        lambda: openssl_sm2.verify(public, MESSAGE, signature),
        lambda data: hashlib.new("sm3", data).digest(),
    )


def sm2_tongsuopy() -> Candidate:
    from tongsuopy.crypto import hashes
    from tongsuopy.crypto.asymciphers import ec

    private = ec.generate_private_key(ec.SM2())
    public, scheme = private.public_key(), ec.ECDSA(hashes.SM3())
    signature = private.sign(MESSAGE, scheme)

    def verify() -> bool:
        public.verify(signature, MESSAGE, scheme)  # raises if invalid
        return True

    def sm3(data: bytes) -> bytes:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize()

    return (lambda: private.sign(MESSAGE, scheme), verify, sm3)


def sm2_gmalglib() -> Candidate:
    import gmalglib

    private, public = gmalglib.sm2.SM2().generate_keypair()
    sm2 = gmalglib.sm2.SM2(private, public, USER_ID)
    signature = sm2.sign(MESSAGE)
    return (
        lambda: sm2.sign(MESSAGE),
        lambda: sm2.verify(MESSAGE, signature),
        lambda data: gmalglib.sm3.SM3(data).digest(),
    )


def sm2_gmssl_fast() -> Candidate:
    import gmssl_fast

    sm2 = gmssl_fast.SM2.generate()
    signature = sm2.sign(MESSAGE)
    return (
        lambda: sm2.sign(MESSAGE),
        lambda: sm2.verify(MESSAGE, signature),
        lambda data: gmssl_fast.sm3(data),
    )


def sm2_smcryptopy() -> Candidate:
    from smcryptopy import sm2, sm3

    private, public = sm2.gen_keypair()
    signature = sm2.sign(USER_ID, MESSAGE, private)
    return (
        lambda: sm2.sign(USER_ID, MESSAGE, private),
        lambda: bool(sm2.verify(USER_ID, MESSAGE, signature, public)),
        lambda data: bytes.fromhex(sm3.sm3_hash(data)),
    )


def sm2_gmssl_pure() -> Candidate:
    from gmssl import func, sm2, sm3

    private = os.urandom(32).hex()
    probe = sm2.CryptSM2(private_key=private, public_key="")
    public = probe._kg(int(private, 16), sm2.default_ecc_table["g"])
    crypt = sm2.CryptSM2(private_key=private, public_key=public)
    signature = crypt.sign_with_sm3(MESSAGE)
    return (
        lambda: crypt.sign_with_sm3(MESSAGE),
        lambda: crypt.verify_with_sm3(signature, MESSAGE),
        lambda data: bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data))),
    )


CANDIDATES: dict[str, Callable[[], Candidate]] = {
    "Ed25519, PyNaCl (libsodium)": ed25519_pynacl,
    "SM2, OpenSSL 3 via ctypes (crypto/openssl_sm2.py)": sm2_openssl_ctypes,
    "SM2, tongsuopy (Tongsuo, cffi)": sm2_tongsuopy,
    "SM2, gmalglib (C extension)": sm2_gmalglib,
    "SM2, gmssl-fast (GmSSL, static)": sm2_gmssl_fast,
    "SM2, smcryptopy (Rust, cffi)": sm2_smcryptopy,
    "SM2, gmssl (pure Python)": sm2_gmssl_pure,
}


def rate(work: Callable[[], object], seconds: float, threads: int = 1) -> tuple[float, float]:
    """(calls per wall second, calls per CPU second of this process) of `work` run in
    `threads` threads for about `seconds`. On a machine shared with other jobs the CPU
    rate is the steadier figure of a library's speed; whether it releases the GIL shows
    only in wall time (two threads' rate over one's), and only while two cores are free."""
    counts = [0] * threads

    def loop(slot: int, deadline: float) -> None:
        while time.perf_counter() < deadline:
            work()
            counts[slot] += 1

    start, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=loop, args=(i, start + seconds)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return sum(counts) / wall, sum(counts) / cpu


def figures(candidate: Candidate, seconds: float) -> list[float]:
    """One round: verify/s per CPU second and per wall second on one thread, verify/s
    (wall) on two threads, sign/s and hash MB/s per CPU second (SHA-256 where the
    candidate has no SM3)."""
    sign, verify, sm3 = candidate
    hash_ = sm3 or (lambda data: hashlib.sha256(data).digest())
    one_wall, one_cpu = rate(verify, seconds)
    two_wall = rate(verify, seconds, threads=2)[0]
    return [
        one_cpu,
        one_wall,
        two_wall,
        rate(sign, seconds)[1],
        rate(lambda: hash_(HASH_INPUT), seconds)[1] * len(HASH_INPUT) / 2**20,
    ]


def measure(chosen: dict[str, Candidate], seconds: float, runs: int) -> dict[str, list[float]]:
    """Medians over `runs` rounds. Rounds go over every candidate in turn, so a burst of
    load from a neighbour on a shared machine falls on all of them rather than on one."""
    rounds: dict[str, list[list[float]]] = {name: [] for name in chosen}
    for _ in range(runs):
        for name, candidate in chosen.items():
            rounds[name].append(figures(candidate, seconds))
    return {
        name: [statistics.median(column) for column in zip(*rows, strict=True)]
        for name, rows in rounds.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median kept)")
    parser.add_argument(
        "--only",
        default="",
        help="measure only candidates whose name contains one of these comma-separated words",
    )
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"median of {args.runs} runs of {args.seconds} s; message {len(MESSAGE)} bytes\n")
    chosen: dict[str, Candidate] = {}
    for name, make in CANDIDATES.items():
        if not any(word.strip().lower() in name.lower() for word in args.only.split(",")):
            continue
        try:
            chosen[name] = make()
        except (ImportError, OSError) as error:
            print(f"{name}: not installed ({type(error).__name__}: {error})")
            continue
        assert chosen[name][1](), f"{name}: its own signature does not verify"
    columns = (
        "verify/CPU-s",
        "verify/s (wall), 1 thread",
        "verify/s (wall), 2 threads",
        "2 threads / 1",
        "sign/CPU-s",
        "hash MB/CPU-s",
    )
    print("\n| implementation | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name, row in measure(chosen, args.seconds, args.runs).items():
        one_cpu, one_wall, two_wall, signs, hashing = row
        kind = "SM3" if chosen[name][2] else "SHA-256"
        print(
            f"| {name} | {one_cpu:,.0f} | {one_wall:,.0f} | {two_wall:,.0f} | "
            f"{two_wall / one_wall:.2f} | {signs:,.0f} | {kind} {hashing:,.0f} |"
        )
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
