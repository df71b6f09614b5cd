"""`govchain status` formatting: primary by node id, lag against the highest node."""

from __future__ import annotations

from cli.status_view import render_status
from protos import api_pb2 as api

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def reply(node: str, key: bytes, height: int, view: int = 1, active: bool = True):
    return api.GetStatusResponse(
        node_id=node,
        public_key=key,
        channels=[
            api.ChannelStatus(
                channel="license",
                height=height,
                view=view,
                view_active=active,
                primary=B,
                validators=[A, B, C],
                peers_connected=2,
                mempool_txs=7,
                stable_height=8,
                member=True,
                governance_sequence=2,
            )
        ],
    )


def test_rows_name_the_primary_and_the_lag() -> None:
    text = render_status(
        [
            ("a", reply("dept-a", A, 12)),
            ("b", reply("dept-b", B, 10, active=False)),
            ("c", "UNAVAILABLE"),
        ]
    )
    header, row_a, row_b, row_c = text.splitlines()
    assert header.split()[:4] == ["node", "channel", "height", "lag"]
    assert row_a.split() == [
        "dept-a",
        "license",
        "12",
        "0",
        "1",
        "active",
        "dept-b",
        "8",
        "2/2",
        "7",
        "member",
        "2",
    ]
    assert row_b.split()[2:7] == ["10", "2", "1", "change", "dept-b"]
    assert row_c.split() == ["c", "unreachable", "(UNAVAILABLE)"]


def test_an_unknown_primary_is_shown_by_key_prefix() -> None:
    only = reply("dept-a", A, 3)
    only.channels[0].primary = C
    assert C.hex()[:16] in render_status([("a", only)])


def test_governance_columns_show_role_sequence_and_the_next_set() -> None:
    joining = reply("dept-d", b"d" * 32, 5)
    ch = joining.channels[0]
    ch.member = False
    ch.next_validators.extend([A, B, C, b"d" * 32])
    ch.next_set_from_height = 17
    leaving = reply("dept-a", A, 5)
    leaving.channels[0].next_validators.extend([B, C])
    leaving.channels[0].next_set_from_height = 17
    observer = reply("dept-e", b"e" * 32, 5)
    observer.channels[0].member = False
    _, row_d, row_a, row_e = render_status(
        [("d", joining), ("a", leaving), ("e", observer)]
    ).splitlines()
    assert row_d.split()[10:12] == ["joining", "2"]
    assert row_d.endswith("next set from height 17 (4 validators)")
    assert row_a.split()[10] == "leaving" and "(2 validators)" in row_a
    assert row_e.split()[10:] == ["observer", "2"]


def test_tools_dial_a_node_at_its_nodes_txt_address(tmp_path) -> None:
    """A --hosts testnet listens on 0.0.0.0 everywhere: only nodes.txt says where."""
    from cli.testnet_files import node_address

    (tmp_path / "nodes.txt").write_text("dept-a 10.0.0.1:7050\ndept-b 10.0.0.2:7050\n")
    (tmp_path / "dept-b").mkdir()
    assert node_address(tmp_path / "dept-b") == "10.0.0.2:7050"


def test_a_failed_channel_and_a_failed_task_are_shown_with_their_reasons() -> None:
    failed = reply("dept-a", A, 5)
    failed.channels[0].failure = "RuntimeError: injected fault"
    failed.failures.append("peer-dept-b: ValueError: boom")
    _header, row, task = render_status([("a", failed)]).splitlines()
    assert row.split()[5] == "FAILED"
    assert row.endswith("FAILED: RuntimeError: injected fault")
    assert task.split() == ["dept-a", "FAILED", "task", "peer-dept-b:", "ValueError:", "boom"]
