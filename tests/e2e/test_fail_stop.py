"""A failing node stops, loudly (architecture.md, boundary 7): faults injected into one node.

Each test breaks one component of a node running in the test's event loop and checks
what an operator sees: the log line with its traceback or cause, gRPC health, GetStatus,
the answer to a submit, and the metrics; and that a node that cannot persist sends
nothing it has not persisted and asks its supervisor for a restart (exit code 75).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import plyvel
import pytest
import structlog

from client.connection import load_signing_key
from client.txs import kv_put_tx
from consensus.config import ConsensusConfig
from consensus.messages import parse_signed
from node.metrics import NodeCollector
from node.stallwatch import StallWatch
from node.transport import PeerLink
from protos import api_pb2 as api
from protos import api_pb2_grpc as api_grpc
from protos import consensus_pb2 as pb
from storage.stores import StorageError
from tests.e2e.inprocess import NOT_SERVING, SERVING, health, make_net, running, status, until


def _tx(root: Path, key: bytes, channel: str = "license") -> bytes:
    client = load_signing_key(root / "keys" / "client.key")
    return kv_put_tx(client, "govchain-testnet", channel, key, b"v")


async def _submit(node, raw: bytes) -> api.SubmitResponse:
    async with grpc.aio.insecure_channel(node.config.listen) as channel:
        return await api_grpc.ClientStub(channel).SubmitTransactions(
            api.SubmitRequest(txs=[raw]), timeout=5
        )


def test_an_exception_in_a_channel_runtime_fails_the_channel_loudly(tmp_path: Path) -> None:
    """Before: the runtime's exception log passed the event's name under structlog's own
    message argument, which raised inside structlog, so the runtime task
    died without a word, and health stayed SERVING while submits were ACCEPTED."""
    dirs = make_net(tmp_path / "net", channels=("license", "catalog"))

    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with running(dirs[0]) as node:
                runtime = node.channels["license"].runtime
                assert await health(node) == SERVING

                def broken(event):
                    raise RuntimeError("injected fault")

                runtime.replica.step = broken
                runtime.add_txs([b"anything"])  # the next event the core sees
                await until(lambda: any(e["event"] == "channel failed" for e in logs), 5, "log")
                assert await health(node) == NOT_SERVING
                assert await health(node, "govchain.api.Client") == NOT_SERVING
                channels = {c.channel: c for c in (await status(node)).channels}
                assert "RuntimeError: injected fault" in channels["license"].failure
                assert channels["catalog"].failure == ""
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await _submit(node, _tx(tmp_path / "net", b"k"))
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                assert "license" in refused.value.details()
                assert "injected fault" in refused.value.details()
                # The other channel still takes txs.
                ok = await _submit(node, _tx(tmp_path / "net", b"k", "catalog"))
                assert ok.results[0].status == api.ACCEPTED
                assert node.failure_counts["channel"] == 1
                samples = {
                    (m.name, tuple(sample.labels.values())): sample.value
                    for m in NodeCollector(node).collect()
                    for sample in m.samples
                }
                assert samples[("govchain_channel_failed", ("license",))] == 1
                assert samples[("govchain_channel_failed", ("catalog",))] == 0
                assert samples[("govchain_failures", ("channel",))] == 1
        (line,) = [e for e in logs if e["event"] == "channel failed"]
        assert line["log_level"] == "error"
        assert isinstance(line["exc_info"], RuntimeError)
        assert line["channel"] == "license"

    asyncio.run(main())


def _envelope_kinds(cfg: ConsensusConfig, sent: list[bytes]) -> list[str]:
    kinds = []
    for data in sent:
        signed = parse_signed(pb.Envelope.FromString(data).message, cfg, None)
        kinds.append(getattr(signed, "kind", "?"))
    return kinds


def test_a_failed_synced_write_stops_the_node_before_it_sends_anything(tmp_path: Path) -> None:
    """Persist before send: the primary's pre-prepare is never sent when its slot record
    cannot be written, and the node stops at once with exit code 75 (before: the runtime
    task died silently and the node stayed up, SERVING)."""
    root = tmp_path / "net"
    dirs = make_net(root)

    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with running(dirs[0]) as node:
                ledger = node.channels["license"].ledger
                path = ledger.store.path

                def full(*_args, **_kwargs) -> None:
                    cause = plyvel.IOError(f"IO error: {path}/000003.log: No space left on device")
                    raise StorageError(f"write to {path} failed: {cause}") from cause

                ledger.store.write = full
                sent: list[bytes] = []
                for link in node.links.values():
                    link.send_consensus = lambda _ch, env: sent.append(env)
                await _submit(node, _tx(root, b"k"))  # the primary cuts a block: a slot
                await until(lambda: node.fatal.is_set(), 10, "the node to stop")
                sent_when_stopped = len(sent)
                from node.node import EXIT_STORAGE_FAILURE

                assert node.exit_code == EXIT_STORAGE_FAILURE == 75
                assert await health(node) == NOT_SERVING
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await _submit(node, _tx(root, b"k2"))
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                # Over a few retransmission ticks: nothing at all goes out any more.
                await asyncio.sleep(0.3)
                assert len(sent) == sent_when_stopped
                kinds = _envelope_kinds(node.channels["license"].runtime.cfg, sent)
                assert not {"pre_prepare", "prepare", "commit", "view_change"} & set(kinds)
        (line,) = [e for e in logs if e["event"] == "storage failure"]
        assert line["log_level"] == "error"
        assert line["errno"] == "ENOSPC"
        assert line["path"] == path

    asyncio.run(main())


def test_every_long_lived_task_of_the_node_is_supervised(tmp_path: Path) -> None:
    """Every asyncio task the node's own code runs has a supervisor, so none can end
    silently: runtimes, peer links, block fetches (before: none had one)."""
    from node.supervise import is_supervised

    dirs = make_net(tmp_path / "net")

    async def main() -> None:
        async with running(dirs[0]) as node:
            for link in node.links.values():  # make the links dial (their peers are down)
                link.send_consensus("license", b"x")
            await asyncio.sleep(0.2)
            ours = [
                t
                for t in asyncio.all_tasks()
                if "/node/" in getattr(t.get_coro(), "cr_code", t.get_coro()).co_filename
                and t is not asyncio.current_task()
            ]
            assert len(ours) >= 4, [t.get_name() for t in ours]  # a runtime and 3 links
            assert [t.get_name() for t in ours if not is_supervised(t)] == []

    asyncio.run(main())


def test_a_failing_peer_link_task_is_logged_and_makes_the_node_unhealthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the link's task died silently and the peer was never dialled again."""
    dirs = make_net(tmp_path / "net")

    async def broken(self) -> None:
        raise ValueError("injected link fault")

    monkeypatch.setattr(PeerLink, "_run", broken)

    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with running(dirs[0]) as node:
                await until(
                    lambda: sum(e["event"] == "background task failed" for e in logs) >= 3,
                    5,
                    "3 failures logged",
                )
                assert node.failure_counts["task"] == 3
                assert await health(node) == NOT_SERVING
                reply = await status(node)
                assert any("injected link fault" in f for f in reply.failures)
        failed = [e for e in logs if e["event"] == "background task failed"]
        assert len(failed) == 3 and all(isinstance(e["exc_info"], ValueError) for e in failed)

    asyncio.run(main())


def test_a_failing_stall_watch_thread_is_logged_and_makes_the_node_unhealthy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the thread's exception went to stderr through threading.excepthook only."""
    dirs = make_net(tmp_path / "net")

    def broken(self) -> None:
        raise ValueError("injected watch fault")

    monkeypatch.setattr(StallWatch, "_watch", broken)

    async def main() -> None:
        with structlog.testing.capture_logs() as logs:
            async with running(dirs[0]) as node:
                await until(
                    lambda: any(e["event"] == "background thread failed" for e in logs),
                    5,
                    "the failure logged",
                )
                await until(lambda: node.failure_counts["task"] == 1, 5, "the failure counted")
                assert await health(node) == NOT_SERVING
        assert [e["thread"] for e in logs if e["event"] == "background thread failed"] == [
            "stallwatch"
        ]

    asyncio.run(main())
