"""`govchain department rotate-key`: a department replaces its tx key on every channel.

Departments and their keys exist per channel (each channel's genesis), so a rotation is
one `registry.rotate_key` tx per channel (chains/registry.py), each signed by the old key
and carrying the new key's proof of possession for that channel. The command sends them
one channel at a time and waits for each to commit; a channel where the new key already
replaced the old one is reported and skipped, so an interrupted rotation is finished by
running the same command again. Until every channel has rotated, the old key still
signs on the channels that have not.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import grpc

from chains.registry import DEPARTMENT_KEYS_KEY, ROTATE_KEY, public_key_of, rotate_key_payload
from chains.tx import encode_tx
from cli.governance import VALID_BLOCKS, NotCommitted, _stub, channel_status, guarded
from cli.proposal_file import ProposalError, load_signing_key, node_suite
from client.txs import TxRefused, wait_committed
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc


def rotated_already(stub: api_grpc.ClientStub, channel: str, old: bytes, new: bytes) -> bool:
    """Whether the channel's department keys (if any rotated) hold `new` and not `old`."""
    state = stub.GetState(api.GetStateRequest(channel=channel, key=DEPARTMENT_KEYS_KEY), timeout=5)
    if not state.found:
        return False
    keys = {k for d in api.DepartmentKeys.FromString(state.value).departments for k in d.keys}
    return new in keys and old not in keys


def rotate_on(
    stub: api_grpc.ClientStub, chain_id: str, channel: str, old, new, timeout_s: float
) -> str:
    """Rotate on one channel and wait for the commit; a line saying what became of it.
    Raises NotCommitted if the tx was refused or did not commit."""
    old_key, new_key = public_key_of(old), public_key_of(new)
    if rotated_already(stub, channel, old_key, new_key):
        return f"{channel}: already rotated"
    body = api.TxBody(
        chain_id=chain_id,
        channel=channel,
        type=ROTATE_KEY,
        payload=rotate_key_payload(old_key, new, chain_id, channel),
        nonce=time.time_ns(),
        valid_until_height=channel_status(stub, channel).height + VALID_BLOCKS,
    )
    raw = encode_tx(body, old)
    try:
        (result,) = stub.SubmitTransactions(api.SubmitRequest(txs=[raw]), timeout=10).results
    except grpc.RpcError as e:
        raise NotCommitted(f"{channel}: not admitted: {e.code().name}: {e.details()}") from None
    if result.status != api.ACCEPTED:
        status = api.TxStatus.Name(result.status)
        raise NotCommitted(f"{channel}: not admitted: {status} {result.detail}")
    try:
        found = wait_committed(stub, channel, result.tx_id, timeout_s)
    except TxRefused as e:
        raise NotCommitted(f"{channel}: {e}") from None
    if found.result.code != 0:
        raise NotCommitted(f"{channel}: refused at height {found.height}: {found.result.reason}")
    return f"{channel}: rotated at height {found.height}"


def cmd_rotate_key(args: argparse.Namespace) -> int:
    stub = _stub(args)
    status = stub.GetStatus(api.GetStatusRequest(), timeout=10)
    suite = node_suite(status)  # both keys and the new key's proof in the chain's suite
    old = load_signing_key(args.old_key, suite=suite)
    new = load_signing_key(args.new_key, suite=suite)
    if public_key_of(old) == public_key_of(new):
        raise ProposalError("--old-key and --new-key are the same key")
    served = [c.channel for c in status.channels]
    channels = served if args.channels == ["all"] else args.channels
    unknown = [c for c in channels if c not in served]
    if unknown:
        raise ProposalError(f"the node does not serve {', '.join(unknown)}")
    for channel in channels:
        print(rotate_on(stub, status.chain_id, channel, old, new, args.timeout), flush=True)
    print(f"the new key {public_key_of(new).hex()} signs for the department from now on")
    return 0


def add_department_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("department", help="a department's own keys").add_subparsers(
        dest="action", required=True
    )
    r = d.add_parser("rotate-key", help="replace the department's tx key on every channel")
    r.add_argument("--old-key", required=True, help="the current tx key (file or pkcs11: URI)")
    r.add_argument("--new-key", required=True, help="the key that replaces it")
    r.add_argument("--channels", nargs="+", default=["all"], help="default: all the node serves")
    r.add_argument("--node", default="127.0.0.1:7050")
    r.add_argument("--tls", type=Path, help="dir with ca.crt, client.crt, client.key")
    r.add_argument("--timeout", type=float, default=60.0, help="seconds to wait per channel")
    r.set_defaults(func=guarded(cmd_rotate_key, "govchain department"))
