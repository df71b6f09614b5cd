"""docs/protocol.md is what the code computes: a client written in another language can be
checked against its worked examples and formulas, so they must never drift. Every list it
gives (proto files, services, admission statuses, result codes, each application's tx
types, signers, world-state keys and limits) is checked against the code both ways."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import hmac
import importlib
import inspect
import re
import types
from pathlib import Path

import nacl.public
import nacl.signing
import pytest

import chains.base
import chains.codes
import node.executor
from chains import privacy
from chains.governance import (
    MEMBERSHIP_KEY,
    POLICY_BYTES_MAX,
    POLICY_DEPTH_MAX,
    WRITE_POLICY_KEY,
)
from chains.policy import ANY, government_write_policy
from chains.registry import (
    ADD_TERMINAL,
    APPLICATIONS,
    DEPARTMENT_KEYS_KEY,
    REGISTRY_TYPES,
    REMOVE_TERMINAL,
    ROTATE_KEY,
    possession_bytes,
    terminal_possession_bytes,
)
from chains.tx import decode_tx, encode_tx
from client.pull_request import request_bytes
from consensus.config import quorum_of
from consensus.hashing import (
    SHA256,
    merkle_proof,
    merkle_root,
    merkle_tree_hash,
    sha256,
    verify_merkle_proof,
)
from consensus.membership import VALIDATORS_MAX, approval_bytes
from node.datashare_api import REQUEST_SKEW_MS, DataShareService
from node.server import SERVICE_NAMES
from node.transport import HELLO_SKEW_MS, hello_bytes
from protos import api_pb2 as api
from protos import consensus_pb2 as pb
from protos import datashare_pb2 as ds
from protos import kv_pb2
from storage.state_sum import block_sum

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
KEY = nacl.signing.SigningKey(bytes(range(32)))


def example(name: str) -> dict[str, list[str]]:
    """The `label: hex …` lines of the ```text block that starts with `name` (the block
    may be indented, inside a list item)."""
    pattern = rf"^( *)```text\n\1{re.escape(name)}\n(.*?)\n\1```"
    match = re.search(pattern, DOC.read_text(), re.MULTILINE | re.DOTALL)
    assert match, f"no worked example {name!r}"
    out: dict[str, list[str]] = {}
    for line in match[2].splitlines():
        label, _, values = line.partition(":")
        out[label.strip()] = values.split()
    return out


def section(start: str) -> str:
    """The text from the heading line starting with `start` up to the next heading."""
    lines = DOC.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    end = next((i for i in range(first + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return "\n".join(lines[first + 1 : end])


def rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in `text` (header and rule rows dropped)."""
    out = []
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        out.append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def codes(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def kv_envelope(nonce: int) -> bytes:
    body = api.TxBody(
        chain_id="govchain-0",
        channel="license",
        type="kv.put",
        payload=kv_pb2.KvPut(key=b"k", value=b"v").SerializeToString(deterministic=True),
        nonce=nonce,
        valid_until_height=1000,
    )
    return encode_tx(body, KEY)


# ------------------------------------------------------------------ worked examples


def test_the_worked_tx_example_is_what_the_code_computes() -> None:
    ex = example("tx-example")
    raw = kv_envelope(7)
    tx = decode_tx(raw, "govchain-0", 1 << 16)
    assert ex["body"] == [tx.body_bytes.hex()]
    assert ex["signer"] == [tx.signer.hex()]
    assert ex["signature"] == [tx.signature.hex()]
    assert ex["envelope"] == [raw.hex()]
    assert ex["tx id"] == [tx.tx_id.hex()] == [sha256(raw).hex()]
    KEY.verify_key.verify(tx.body_bytes, tx.signature)
    assert ex["envelope 2"] == [kv_envelope(8).hex()]
    assert ex["tx id 2"] == [sha256(kv_envelope(8)).hex()]


def test_the_worked_merkle_example_is_what_the_code_computes() -> None:
    ex = example("merkle-example")
    leaves = [b"tx0", b"tx1", b"tx2"]
    hashed = [sha256(b"\x00" + leaf) for leaf in leaves]
    assert [ex[f"leaf {i}"][0] for i in range(3)] == [h.hex() for h in hashed]
    assert ex["N(0,1)"] == [sha256(b"\x01" + hashed[0] + hashed[1]).hex()]
    assert ex["tree"] == [merkle_tree_hash(leaves).hex()]
    root = merkle_root(leaves)
    assert ex["root"] == [root.hex()]
    assert ex["root([])"] == [merkle_root([]).hex()]
    for i in (0, 2):
        proof = [bytes.fromhex(h) for h in ex[f"proof {i}"]]
        assert proof == merkle_proof(leaves, i)
        assert verify_merkle_proof(leaves[i], i, 3, proof, root)


def test_the_worked_tx_root_example_is_what_the_code_computes() -> None:
    ex = example("tx-root-example")
    one, two = kv_envelope(7), kv_envelope(8)
    leaf, leaf2 = sha256(b"\x00" + one), sha256(b"\x00" + two)
    assert ex["leaf"] == [leaf.hex()] and ex["leaf 2"] == [leaf2.hex()]
    assert ex["root 1 tx"] == [merkle_root([one]).hex()]
    assert merkle_root([one]) == sha256(b"\x02" + (1).to_bytes(8, "big") + leaf)
    assert ex["N(leaf, 2)"] == [sha256(b"\x01" + leaf + leaf2).hex()]
    assert ex["root 2 txs"] == [merkle_root([one, two]).hex()]
    assert ex["proof 2 of 2"] == [h.hex() for h in merkle_proof([one, two], 1)]
    assert merkle_proof([one], 0) == []


def verify_as_documented(leaf: bytes, index: int, count: int, siblings: list[bytes]) -> bytes:
    """Section 3's verification, step by step as written: the root it leads to (or b"")."""
    if not 0 <= index < count:
        return b""
    node_, width, used = sha256(b"\x00" + leaf), count, 0
    while width > 1:
        if index ^ 1 < width:
            if used == len(siblings):
                return b""
            s = siblings[used]
            node_ = sha256(b"\x01" + (s + node_ if index % 2 else node_ + s))
            used += 1
        index, width = index // 2, -(-width // 2)
    if used != len(siblings):
        return b""
    return sha256(b"\x02" + count.to_bytes(8, "big") + node_)


@pytest.mark.parametrize("count", range(1, 10))
def test_proof_verification_as_documented_agrees_with_the_code(count: int) -> None:
    leaves = [f"tx{i}".encode() for i in range(count)]
    root = merkle_root(leaves)
    for i in range(count):
        proof = merkle_proof(leaves, i)
        assert verify_as_documented(leaves[i], i, count, proof) == root
        assert verify_merkle_proof(leaves[i], i, count, proof, root)
        assert verify_as_documented(leaves[i], (i + 1) % count or count, count, proof) != root


def test_the_worked_block_example_is_what_the_code_computes() -> None:
    ex = example("block-example")
    header = pb.BlockHeader(
        channel="license",
        height=1,
        view=0,
        parent_hash=bytes([0xEE]) * 32,
        tx_root=merkle_root([kv_envelope(7)]),
        proposer=bytes(KEY.verify_key),
        timestamp_ms=1_700_000_000_000,
    )
    raw = header.SerializeToString(deterministic=True)
    assert ex["header"] == [raw.hex()]
    assert ex["digest"] == [sha256(raw).hex()]
    entry1 = (1).to_bytes(4, "big") + b"k" + b"\x01" + (1).to_bytes(4, "big") + b"v"
    entry2 = (1).to_bytes(4, "big") + b"k" + b"\x00"
    assert ex["entries 1"] == [entry1.hex()] and ex["entries 2"] == [entry2.hex()]
    tid1, tid2 = sha256(kv_envelope(7)), bytes([0xDD]) * 32

    def element(entry: bytes) -> int:  # as documented: SHAKE-256, little-endian
        return int.from_bytes(
            hashlib.shake_256(b"govchain-state-sum|" + entry).digest(512), "little"
        )

    kv = b"s" + (1).to_bytes(4, "big") + b"k" + b"v"
    sum1 = (element(kv) + element(b"t" + tid1 + (1).to_bytes(8, "big") + bytes(4))) % (1 << 4096)
    sum2 = (sum1 - element(kv) + element(b"t" + tid2 + (2).to_bytes(8, "big") + bytes(4))) % (
        1 << 4096
    )
    sum1_raw, sum2_raw = sum1.to_bytes(512, "little"), sum2.to_bytes(512, "little")
    history1 = sha256(bytes(32) + (1).to_bytes(8, "big") + sha256(entry1))
    root1 = sha256(history1 + sha256(sum1_raw))
    history2 = sha256(root1 + (2).to_bytes(8, "big") + sha256(entry2))
    root2 = sha256(history2 + sha256(sum2_raw))
    # the code computes the same
    code_sum1 = block_sum(SHA256, b"", 1, {b"k": b"v"}, {}.get, [tid1])
    code_sum2 = block_sum(SHA256, code_sum1, 2, {b"k": None}, {b"k": b"v"}.get, [tid2])
    assert (code_sum1, code_sum2) == (sum1_raw, sum2_raw)
    assert node.executor.state_root(bytes(32), 1, {b"k": b"v"}, state_sum=code_sum1) == root1
    assert node.executor.state_root(root1, 2, {b"k": None}, state_sum=code_sum2) == root2
    assert ex["history root 1"] == [history1.hex()] and ex["history root 2"] == [history2.hex()]
    assert ex["H(state sum 1)"] == [sha256(sum1_raw).hex()]
    assert ex["H(state sum 2)"] == [sha256(sum2_raw).hex()]
    assert ex["state root 1"] == [root1.hex()] and ex["state root 2"] == [root2.hex()]


def test_the_quorum_table_is_what_the_code_computes() -> None:
    ex = example("quorum-example")
    for n, f, q in zip(ex["n"], ex["f"], ex["quorum"], strict=True):
        assert int(f) == (int(n) - 1) // 3
        assert int(q) == quorum_of(int(n))


def test_the_hello_and_approval_bytes_are_as_documented() -> None:
    a, b = bytes([1]) * 32, bytes([2]) * 32
    assert hello_bytes("net", a, b, 1234) == b"govchain-peer-hello|net|" + a + b"|" + b + b"|1234"
    assert approval_bytes(b"proposal") == b"govchain-governance" + b"proposal"
    text = section("## 6.")
    assert HELLO_SKEW_MS == 10 * 60 * 1000 and "within 10 minutes" in text
    assert REQUEST_SKEW_MS == 5 * 60 * 1000 and "within 5 minutes" in text


def test_the_worked_pull_example_is_what_the_code_computes() -> None:
    ex = example("pull-example")
    material = ds.MaterialRequest(
        name="business license",
        license_id="BL01-market-regulation-2024-000123",
        items=["BL01/name"],
    )
    request = ds.PullRequest(
        case_number="C-1",
        grant_id="g-1",
        requester="agriculture",
        materials=[material],
        timestamp_ms=1_700_000_000_000,
        signer=bytes(KEY.verify_key),
    )
    unsigned = request_bytes(request)
    request.signature = KEY.sign(unsigned).signature
    assert request_bytes(request) == unsigned  # the signature is not signed
    assert ex["request"] == [unsigned.hex()]
    assert ex["signature"] == [request.signature.hex()]
    assert ex["material"] == [material.SerializeToString(deterministic=True).hex()]
    digest = sha256(unsigned + material.SerializeToString(deterministic=True))
    assert ex["access id"] == [f"acc-{digest.hex()[:24]}-g"]

    async def submit(*_args: object) -> None:
        return None

    provider = DataShareService(types.SimpleNamespace(department_id="x", submit_own_tx=submit))
    for outcome in ("granted", "denied"):
        access_id, _ = asyncio.run(provider._record(request, material, outcome, ""))
        assert access_id == f"acc-{digest.hex()[:24]}-{outcome[0]}"


def test_a_sealed_item_opens_as_documented() -> None:
    """A sealed box to the Ed25519 key converted to X25519, holding salt || value."""
    salt, value = bytes(range(privacy.SALT_BYTES)), b"Acme Ltd"
    sealed = privacy.seal_to(bytes(KEY.verify_key), salt + value)
    opened = nacl.public.SealedBox(KEY.to_curve25519_private_key()).decrypt(sealed)
    assert opened == salt + value


def test_the_worked_privacy_example_is_what_the_code_computes() -> None:
    ex = example("privacy-example")
    subject_key = bytes([0x5A]) * 32
    ref = privacy.subject_ref(subject_key, " 91110108 MA01abcd3x ")
    mac = hmac.new(subject_key, b"govchain-subject|91110108MA01ABCD3X", hashlib.sha256)
    assert ex["subject_ref"] == [ref.hex()] == [mac.hexdigest()]
    salt = bytes(range(16))

    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    commitments = []
    for code, value in (("name", b"Acme Ltd"), ("reg_no", b"91110108MA01ABCD3X")):
        c = privacy.commit_item(salt, code, value)
        assert c == sha256(b"\x00" + field(salt) + field(code.encode()) + field(value))
        assert ex[code] == [c.hex()]
        commitments.append(c)
    assert ex["items_root"] == [privacy.items_root(commitments).hex()]
    assert privacy.items_root(commitments) == merkle_root(commitments)
    assert f"SALT_BYTES = {privacy.SALT_BYTES}" in section("### Privacy")


# ------------------------------------------------------------------ lists, both ways


def test_the_proto_table_lists_every_proto_file_and_its_package() -> None:
    intro = DOC.read_text().split("\n## ")[0]
    table = {codes(r[0])[0]: codes(r[1])[0] for r in rows(intro)[1:]}
    files = sorted(ROOT.glob("protos/*.proto"))
    assert set(table) == {f"protos/{p.name}" for p in files}
    for p in files:
        package = re.search(r"^package ([\w.]+);", p.read_text(), re.MULTILINE)
        assert package and table[f"protos/{p.name}"] == package[1]


def test_the_services_table_lists_exactly_what_a_node_serves() -> None:
    table = {codes(r[0])[0]: codes(r[2]) for r in rows(section("## 8."))[1:]}
    assert set(table) == set(SERVICE_NAMES)
    for module in (api, ds):
        for service in module.DESCRIPTOR.services_by_name.values():
            assert table[service.full_name] == [m.name for m in service.methods]


def test_the_admission_table_lists_exactly_the_tx_statuses() -> None:
    table = [codes(r[0])[0] for r in rows(section("## 2."))[1:]]
    assert sorted(table) == sorted(api.TxStatus.keys())


def int_constants(module: types.ModuleType) -> dict[str, int]:
    """Module-level `NAME = <int>` assignments of `module`'s own source."""
    tree = ast.parse(inspect.getsource(module))
    out = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name) and isinstance(getattr(module, target.id), int):
                out[target.id] = getattr(module, target.id)
    return out


def refusal_codes(module: types.ModuleType) -> dict[str, int]:
    """The module's own constants its handlers refuse with (`Refusal(CODE, …)`)."""
    own = int_constants(module)
    used = {
        call.args[0].id
        for call in ast.walk(ast.parse(inspect.getsource(module)))
        if isinstance(call, ast.Call)
        and getattr(call.func, "id", None) == "Refusal"
        and call.args
        and isinstance(call.args[0], ast.Name)
    }
    return {name: own[name] for name in used if name in own}


def test_the_result_code_table_lists_exactly_the_codes() -> None:
    documented = {int(r[0]): codes(r[1])[0] for r in rows(section("## 7."))[1:]}
    in_code = {v: k for k, v in int_constants(node.executor).items()}
    in_code.update({v: k for k, v in int_constants(chains.codes).items()})
    for module, _ in APPLICATIONS.values():
        in_code.update({v: k for k, v in refusal_codes(importlib.import_module(module)).items()})
    assert documented == in_code


APP_MODULES = {
    name: [importlib.import_module(module)] for name, (module, _) in APPLICATIONS.items()
}
APP_MODULES["service"].append(importlib.import_module("chains.service_shapes"))


@pytest.mark.parametrize("app", sorted(APPLICATIONS))
def test_each_application_table_lists_exactly_its_tx_types_and_signers(app: str) -> None:
    table = [r for r in rows(section(f"### `{app}`")) if r[0].startswith(f"`{app}.")]
    module = APP_MODULES[app][0]
    assert {(codes(r[0])[0], codes(r[1])[0]) for r in table} == {
        (t.name, t.kind.DESCRIPTOR.name) for t in module.TX_TYPES
    }
    assert len(table) == len(module.TX_TYPES)
    policy = government_write_policy(app)
    for r in table:
        roles = policy.get(codes(r[0])[0], policy.get(ANY))
        assert set(codes(r[2])) == set(roles or ()), r[0]


def key_prefixes(module: types.ModuleType) -> set[str]:
    """The first part of every `key(...)` the module builds (a literal or a constant)."""
    out = set()
    for call in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "key" and call.args:
            first = call.args[0]
            out.add(first.value if isinstance(first, ast.Constant) else getattr(module, first.id))
    return out


@pytest.mark.parametrize("app", sorted(APPLICATIONS))
def test_each_application_lists_exactly_its_world_state_keys(app: str) -> None:
    documented = {
        codes(r[0])[0].split("\\0")[0] for r in rows(section(f"### `{app}`")) if "\\0" in r[0]
    }
    assert documented == set().union(*(key_prefixes(m) for m in APP_MODULES[app]))


@pytest.mark.parametrize("app", sorted(APPLICATIONS))
def test_each_application_lists_exactly_its_limits(app: str) -> None:
    documented = {
        name: int(value.replace(",", ""))
        for name, value in re.findall(
            r"`([A-Z][A-Z0-9_]*)`\s*=\s*([\d,]+)", section(f"### `{app}`")
        )
    }
    limits = {
        name: value
        for m in APP_MODULES[app]
        for name, value in int_constants(m).items()
        if re.search(r"_(MAX|MIN|BYTES)$", name)
    }
    assert documented == limits


def test_governance_limits_and_reserved_keys_are_documented() -> None:
    documented = dict(re.findall(r"`([A-Z][A-Z0-9_]*)`\s*=\s*(\d+)", section("## 6.")))
    assert {k: int(v) for k, v in documented.items()} == {
        "VALIDATORS_MAX": VALIDATORS_MAX,
        "POLICY_BYTES_MAX": POLICY_BYTES_MAX,
        "POLICY_DEPTH_MAX": POLICY_DEPTH_MAX,
    }
    text = DOC.read_text()
    for reserved in (MEMBERSHIP_KEY, WRITE_POLICY_KEY):
        assert f"`\\0{reserved[1:].decode()}`" in text
    governance = [codes(r[0])[0] for r in rows(section("### Governance"))[1:]]
    assert sorted(governance) == sorted(node.executor.GOVERNANCE_KINDS)


def test_key_rotation_is_documented_as_the_code_does_it() -> None:
    text = DOC.read_text()
    assert f"`\\0{DEPARTMENT_KEYS_KEY[1:].decode()}`" in text
    table = [r for r in rows(section("### Department keys")) if r[0].startswith("`")]
    assert [(codes(r[0])[0], codes(r[1])[0].split()[0]) for r in table] == [
        (ROTATE_KEY, api.RotateKey.DESCRIPTOR.name),
        (ADD_TERMINAL, api.AddTerminal.DESCRIPTOR.name),
        (REMOVE_TERMINAL, api.RemoveTerminal.DESCRIPTOR.name),
    ]
    assert {codes(r[0])[0] for r in table} == REGISTRY_TYPES
    # The possession proof's bytes, built as section 6 says.
    old, new = bytes(KEY.verify_key), bytes(range(32))
    parts = (b"govchain-test", b"license", old, new)
    documented = b"govchain-rotate-key" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    assert possession_bytes("govchain-test", "license", old, new) == documented
    assert '"govchain-rotate-key"' in section("## 6.")
    parts = (b"govchain-test", b"agriculture", b"kiosk-02", new)
    documented = b"govchain-add-terminal" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    assert terminal_possession_bytes("govchain-test", "agriculture", "kiosk-02", new) == documented
    assert '"govchain-add-terminal"' in section("## 6.")
