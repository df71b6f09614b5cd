"""The network page (every node and channel, refreshed live over server-sent events)
and the explorer (latest blocks per channel, a block, a tx with its proof checked).

The status rows are what `govchain status` prints, from the same GetStatus replies:
height, lag behind the highest node, view, whether the view is active, the primary,
peers, mempool, the node's role (member, observer, joining, leaving), the governance
sequence, and a scheduled validator change.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from web.console.app import Console, Staff, page
from web.console.ledger import NodeStatus, NotFound, decode_tx, tx_summaries
from web.console.records import when
from web.console.verify import check_tx

router = APIRouter()
LIVE_INTERVAL_S = 1.0  # how often the network page's rows are refreshed
BLOCKS_SHOWN_MAX = 100
TX_ID = re.compile(r"^[0-9a-fA-F]{64}$")


def role(node_key: bytes, ch: api.ChannelStatus) -> str:
    """member or observer; joining or leaving while a scheduled set would change that."""
    if ch.next_set_from_height and (node_key in ch.next_validators) != ch.member:
        return "leaving" if ch.member else "joining"
    return "member" if ch.member else "observer"


def status_rows(statuses: list[NodeStatus]) -> list[dict[str, Any]]:
    """One row per (node, channel); an unreachable node is one row saying so."""
    names = {s.reply.public_key: s.name for s in statuses if s.reply}
    top: dict[str, int] = {}
    for s in statuses:
        for ch in s.reply.channels if s.reply else ():
            top[ch.channel] = max(top.get(ch.channel, 0), ch.height)
    rows = []
    for s in statuses:
        if s.reply is None:
            rows.append({"id": f"row-{s.name}", "node": s.name, "unreachable": s.problem})
            continue
        for ch in s.reply.channels:
            state = "FAILED" if ch.failure else "active" if ch.view_active else "view change"
            pending = (
                f"from height {ch.next_set_from_height}: {len(ch.next_validators)} validators"
                if ch.next_set_from_height
                else "—"
            )
            rows.append(
                {
                    "id": f"row-{s.name}-{ch.channel}",
                    "node": s.name,
                    "channel": ch.channel,
                    "height": str(ch.height),
                    "lag": str(top[ch.channel] - ch.height),
                    "view": str(ch.view),
                    "state": state + (f": {ch.failure}" if ch.failure else ""),
                    "primary": names.get(ch.primary, ch.primary.hex()[:16]),
                    "peers": f"{ch.peers_connected}/{len(ch.validators) - ch.member}",
                    "mempool": str(ch.mempool_txs),
                    "role": role(s.reply.public_key, ch),
                    "gov": str(ch.governance_sequence),
                    "pending": pending,
                }
            )
    return rows


@router.get("/network")
def network(request: Request, console: Staff) -> Response:
    statuses = console.ledger.statuses()
    up = sum(1 for s in statuses if s.reply)
    return page(request, "network.html", rows=status_rows(statuses), up=up, total=len(statuses))


@router.get("/network/live")
async def network_live(console: Staff) -> Response:
    """Server-sent events: every row's fields, each second (web/static/live.js applies them)."""

    async def events() -> AsyncIterator[str]:
        while True:
            statuses = await anyio.to_thread.run_sync(console.ledger.statuses)
            for row in status_rows(statuses):
                fields = {k: v for k, v in row.items() if k != "id"}
                state = "bad" if "unreachable" in row or "FAILED" in row["state"] else "ok"
                message = {"target": row["id"], "state": state, "fields": fields}
                yield f"data: {json.dumps(message)}\n\n"
            await anyio.sleep(LIVE_INTERVAL_S)

    return StreamingResponse(events(), media_type="text/event-stream")


def known_channel(console: Console, channel: str) -> str:
    if channel not in console.ledger.channels:
        known = ", ".join(console.ledger.channels)
        raise HTTPException(404, f"no channel {channel!r} (channels: {known})")
    return channel


@router.get("/explorer")
def explorer(
    request: Request,
    console: Staff,
    channel: str = Query("service", max_length=40),
    count: int = Query(20, ge=1, le=BLOCKS_SHOWN_MAX),
) -> Response:
    known_channel(console, channel)
    blocks = [block_row(b) for b in console.ledger.latest_blocks(channel, count)]
    return page(request, "explorer.html", channel=channel, blocks=blocks)


def block_row(b: api.GetBlockResponse) -> dict[str, Any]:
    header = pb.BlockHeader.FromString(b.block.block.header)
    return {
        "height": b.height,
        "hash": b.hash.hex(),
        "time": when(header.timestamp_ms),
        "view": header.view,
        "txs": len(b.block.block.txs),
        "commits": len(b.block.commits),
        "header": header,
        "state_root": b.results.state_root.hex(),
    }


@router.get("/explorer/{channel}/block/{height}")
def block(
    request: Request,
    console: Staff,
    channel: str = Path(..., max_length=40),
    height: int = Path(..., ge=1),
) -> Response:
    known_channel(console, channel)
    try:
        b = console.ledger.block(channel, height)
    except NotFound as e:
        raise HTTPException(404, str(e)) from None
    txs = list(tx_summaries(b, console.ledger.network.hash))  # ids: SM3 on sm2-sm3
    return page(request, "block.html", channel=channel, block=block_row(b), txs=txs)


@router.get("/explorer/{channel}/tx/{tx_id}")
def tx(
    request: Request,
    console: Staff,
    channel: str = Path(..., max_length=40),
    tx_id: str = Path(..., max_length=100),
    at_height: int = Query(0, ge=0),
) -> Response:
    """A tx, decoded, with its proof and certificate checked (against its own block, or
    the block `at_height` names, to see the checks fail)."""
    known_channel(console, channel)
    if not TX_ID.match(tx_id):
        raise HTTPException(400, "a tx id is 64 hex digits (the SHA-256 of the tx envelope)")
    try:
        found = console.ledger.tx(channel, bytes.fromhex(tx_id))
        checks = check_tx(console.ledger, channel, found, at_height)
    except NotFound as e:
        raise HTTPException(404, str(e)) from None
    content = decode_tx(found.tx)
    return page(
        request,
        "tx.html",
        channel=channel,
        tx_id=tx_id.lower(),
        found=found,
        content=json.dumps(content, indent=2, ensure_ascii=False),
        tx_type=content.get("type", "?"),
        checks=checks,
        all_ok=all(c.ok for c in checks),
        at_height=at_height or found.height,
    )
