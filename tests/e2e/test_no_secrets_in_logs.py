"""No private key, commitment salt or personal data in any node's log or the demo's output.

The privacy design (chains/privacy.py) keeps personal data off the chain: subjects are
keyed HMACs, items are salted commitments, values travel sealed to the requester. All of
that is worthless if a node writes a key, a salt or a value into its log, which operators
ship to log collectors, tickets and chat. So this test runs the whole government demo on a
real 4-node mutual-TLS testnet, plus a few refused pulls (refusal paths log their reasons,
and reasons are where identifiers tend to slip in), stops the nodes so every log is
complete, and searches every `*.log` under the testnet (the node logs, and LevelDB's
write-ahead logs too, which hold what went on chain) and the demo's printed output for
every secret the run used, in the encodings a logger would produce: hex, base64, a Python
bytes repr, JSON escapes, raw bytes.

The secrets are taken from where the run keeps them (key files written by `testnet init`,
the departments' source records on disk, the salts the demo drew, the demo's own data
constants), never copied as literals, so the test follows the demo when its data changes.
A failure names the kind of secret, a label, the file and line, with the secrets in that
line redacted: the report itself must not become the leak.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from client.connection import load_signing_key
from client.kiosk import pull, sign_request
from demo import story as demo_story
from demo.specs import COMPANY_ID, REP_ID, SPECS
from demo.story import Demo
from node.config import load_config
from protos import datashare_pb2 as ds
from protos import government_pb2 as government
from sources.mapping import load_mapping
from sources.sealing import Sealer, sealing_key
from sources.sidecar import Sidecar
from sources.sql import SqlSource
from tests.e2e.harness import Testnet

ED25519_KEY = "Ed25519 private key"
SUBJECT_KEY = "subject HMAC key"
TLS_KEY = "TLS private key"
SALT = "commitment salt"
PERSONAL = "personal data"
KINDS = (ED25519_KEY, SUBJECT_KEY, TLS_KEY, SALT, PERSONAL)

# Refused pulls: (what is wrong, a fragment of the reason the provider must give).
NO_GRANT = "no grant"
WRONG_KEY = "not signed by a key of the requesting department"
FOREIGN_ITEM = "has no items RID01/id_number"


@dataclass(frozen=True)
class Secret:
    """One secret and the lower-cased texts under which it could show up in a log.

    `label` is what a failure prints; `raw` and `forms` are never printed.
    """

    kind: str
    label: str
    raw: bytes
    forms: tuple[tuple[str, str], ...]  # (encoding name, lower-cased needle)


@dataclass(frozen=True)
class Leak:
    """Where a secret was found, described without the secret itself."""

    kind: str
    label: str
    form: str
    where: str  # file (relative to the testnet root) and line, or "demo output"
    context: str  # the offending line with every known secret redacted


@dataclass(frozen=True)
class Run:
    """What one run leaves behind: the three tests below share a single testnet run, since
    starting one and running the demo is most of the test's time."""

    net: Testnet
    demo_output: str
    logs: dict[Path, bytes]
    secrets: list[Secret]
    denials: list[str]  # reasons the provider gave the kiosk for the refused pulls
    exit_codes: list[int]


# --------------------------------------------------------------------- encodings


def _with_json_escape(forms: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A JSON renderer (`log_json = true`) escapes backslashes and non-ASCII characters."""
    out = list(forms)
    for name, text in forms:
        escaped = json.dumps(text)[1:-1]
        if escaped != text:
            out.append((f"{name}, JSON-escaped", escaped))
    return out


def _finalise(kind: str, label: str, raw: bytes, forms: list[tuple[str, str]]) -> Secret:
    unique: dict[str, str] = {}
    for name, text in _with_json_escape(forms):
        unique.setdefault(text.lower(), name)
    return Secret(kind, label, raw, tuple((name, text) for text, name in unique.items()))


def _bytes_forms(raw: bytes) -> list[tuple[str, str]]:
    """Forms of a random byte string (key, salt): hex, base64 and a bytes repr.

    Base64 is cut to the characters determined by `raw` alone, so it also matches when
    the secret is the start of a longer encoded blob (an Ed25519 seed followed by its
    public key, as in NaCl's 64-byte secret key).
    """
    full = (len(raw) * 8) // 6
    return [
        ("hex", raw.hex()),
        ("base64", base64.b64encode(raw).decode()[:full]),
        ("url-safe base64", base64.urlsafe_b64encode(raw).decode()[:full]),
        ("bytes repr", repr(raw)[2:-1]),
    ]


def random_bytes_secret(kind: str, label: str, raw: bytes) -> Secret:
    return _finalise(kind, label, raw, _bytes_forms(raw))


def text_secret(kind: str, label: str, text: str) -> Secret:
    """Forms of a personal-data string: as is, and as its UTF-8 bytes in hex or repr."""
    raw = text.encode()
    forms = [("text", text), ("UTF-8 hex", raw.hex()), ("UTF-8 bytes repr", repr(raw)[2:-1])]
    return _finalise(kind, label, raw, forms)


def tls_key_secret(path: Path) -> Secret:
    """A PEM private key: its private scalar raw, in hex and base64, and the slice of the
    PEM body that encodes the scalar, whole and as cut by the PEM line breaks.

    Only the slice made of the scalar's own bytes is used: the rest of a PEM body is an
    ASN.1 prefix that every P-256 key shares, and the public key, which is public.
    """
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        scalar = key.private_numbers().private_value.to_bytes((key.key_size + 7) // 8, "big")
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        scalar = key.private_bytes_raw()
    else:
        pytest.fail(f"{path.name}: a TLS key type this test does not know: {type(key).__name__}")
    lines = [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]
    body = "".join(lines)
    der = base64.b64decode(body)
    at = der.find(scalar)
    assert at >= 0, f"{path.name}: the private scalar is not in the key's DER encoding"
    start, end = -(-at // 3) * 4, ((at + len(scalar)) // 3) * 4  # whole base64 groups
    forms = [("PEM body slice", body[start:end])]
    offset = 0
    for ln in lines:  # the slice as it sits on each PEM line
        piece = body[max(start, offset) : min(end, offset + len(ln))]
        if len(piece) >= 16 and piece != body[start:end]:
            forms.append(("PEM line slice", piece))
        offset += len(ln)
    return _finalise(TLS_KEY, f"tls/{path.name}", scalar, [*_bytes_forms(scalar), *forms])


# --------------------------------------------------------------------- the run


class CommitRecorder:
    """Wraps `commit_item` in the demo's namespace to learn every salt and value it commits.

    The demo draws salts with os.urandom and keeps them only in the issuing department's
    source records, except the permit's, which it commits and forgets; recording at the
    commitment is the one place that sees all of them.
    """

    def __init__(self, inner: Callable[..., bytes]) -> None:
        self.inner = inner
        self.seen: list[tuple[bytes, str, bytes]] = []

    def __call__(self, salt: bytes, code: str, value: bytes, suite: object = None) -> bytes:
        self.seen.append((salt, code, value))
        return self.inner(salt, code, value, suite)


def pull_once(
    demo: Demo,
    grant_id: str,
    anchored: dict[str, government.License],
    key: nacl.signing.SigningKey | None = None,
    extra_items: tuple[str, ...] = (),
) -> ds.PullEvent:
    """One pull of the first material by agriculture; the provider's last event."""
    spec = SPECS[0]
    material = ds.MaterialRequest(
        name=spec.name,
        license_id=anchored[spec.type_code].license_id,
        items=[*(f"{spec.type_code}/{c}" for c in spec.values), *extra_items],
    )
    req = ds.PullRequest(
        case_number="C-refused", grant_id=grant_id, requester="agriculture", materials=[material]
    )
    signed = sign_request(req, key or demo.keys["agriculture"])
    return list(pull(demo.nodes[spec.department], signed, tls=demo.kiosk_tls))[-1]


def drive(demo: Demo) -> list[str]:
    """The complete demo (every step, audit included), then refused pulls; their reasons."""
    anchored = demo.seed()
    _, grant_id, case = demo.kiosk_session()
    demo.one_click_pull(grant_id, case, anchored)
    demo.finish_case(case)
    demo.audit()
    _, grant_id, _ = demo.kiosk_session()
    refused = [
        pull_once(demo, "G-nonexistent", anchored),
        pull_once(demo, grant_id, anchored, key=nacl.signing.SigningKey.generate()),
        pull_once(demo, grant_id, anchored, extra_items=("RID01/id_number",)),
    ]
    assert [e.status for e in refused] == [ds.DENIED] * len(refused), [e.reason for e in refused]
    demo.audit()  # the trail now shows the denials too
    return [e.reason for e in refused]


def collect_secrets(net: Testnet, recorder: CommitRecorder) -> list[Secret]:
    """Every secret of the run, at most one entry per distinct secret."""
    secrets: dict[tuple[str, bytes], Secret] = {}

    def add(s: Secret) -> None:
        secrets.setdefault((s.kind, s.raw), s)

    for path in sorted((net.root / "keys").glob("*.key")):
        seed = bytes.fromhex(path.read_text().strip())
        kind = SUBJECT_KEY if path.name == "subject.key" else ED25519_KEY
        add(random_bytes_secret(kind, f"keys/{path.name}", seed))
    for path in sorted((net.root / "tls").glob("*.key")):
        add(tls_key_secret(path))
    # The salts and values the nodes serve: salts in each department's sidecar, values in
    # its own database (read through the same adapter the node uses).
    for d in net.dirs:
        data_dir = load_config(d / "config.toml").data_dir
        if not (data_dir / "source.toml").exists():
            continue
        config = load_config(d / "config.toml")
        sealer = Sealer(sealing_key(load_signing_key(config.department_key_file)))
        sidecar = Sidecar(data_dir / "sidecar.sqlite", sealer)
        source = SqlSource(load_mapping(data_dir / "source.toml"), sidecar)
        with sqlite3.connect(data_dir / "sidecar.sqlite") as db:
            salts = db.execute("SELECT license_id, item FROM salts").fetchall()
        for license_id, code in salts:
            found = source.lookup(license_id, code)
            assert found is not None, f"{d.name}: unreadable item {license_id}/{code}"
            salt, value = found
            add(random_bytes_secret(SALT, f"salt of {license_id}/{code}", salt))
            add(text_secret(PERSONAL, f"value of {license_id}/{code}", value.decode()))
        source.close()
    # The salts the demo drew, including the permit's, which no source record keeps.
    for i, (salt, code, value) in enumerate(recorder.seen):
        add(random_bytes_secret(SALT, f"salt of committed item #{i} ({code})", salt))
        add(text_secret(PERSONAL, f"committed value #{i} ({code})", value.decode()))
    for spec in SPECS:
        for code, value in spec.values.items():
            add(text_secret(PERSONAL, f"SPECS {spec.type_code}/{code}", value))
    add(text_secret(PERSONAL, "COMPANY_ID", COMPANY_ID))
    add(text_secret(PERSONAL, "REP_ID", REP_ID))
    return list(secrets.values())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Run the demo and the refusals once, then stop every node before reading a log."""
    net = Testnet(
        tmp_path_factory.mktemp("secrets") / "net",
        app="government",
        view_change_timeout_ticks=20,
        status_interval_ticks=5,
    )
    recorder = CommitRecorder(demo_story.commit_item)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo_story, "commit_item", recorder)
        try:
            net.start_all()
            denials = drive(Demo(net.root, out=out))
        finally:
            # A clean stop (SIGTERM) so every log is complete before it is read.
            exit_codes = [net.stop(i) for i in range(len(net.dirs))]
    logs = {p: p.read_bytes() for p in sorted(net.root.rglob("*.log"))}
    return Run(net, out.getvalue(), logs, collect_secrets(net, recorder), denials, exit_codes)


# --------------------------------------------------------------------- scanning


def redact(line: str, secrets: list[Secret]) -> str:
    """The offending line for the failure message, each secret replaced by its label, so
    the report points at the logging call without repeating what it leaked."""
    for s in secrets:
        for _, needle in s.forms:
            line = re.sub(re.escape(needle), f"<{s.kind}: {s.label}>", line, flags=re.IGNORECASE)
    return line[:400]


def scan(where: str, data: bytes, secrets: list[Secret]) -> list[Leak]:
    """Every secret found in `data` (a log file's bytes or the demo's output)."""
    text = data.decode("utf-8", errors="replace")
    lowered = text.lower()
    lines = text.split("\n")
    leaks: list[Leak] = []
    for s in secrets:
        found = next(((name, lowered.find(n)) for name, n in s.forms if n in lowered), None)
        if found is not None:
            name, at = found
            line_no = lowered.count("\n", 0, at)
            context = redact(lines[line_no], secrets) if line_no < len(lines) else ""
            leaks.append(Leak(s.kind, s.label, name, f"{where} line {line_no + 1}", context))
        elif s.raw in data:  # binary files, e.g. LevelDB's write-ahead log
            at = data.find(s.raw)
            leaks.append(Leak(s.kind, s.label, "raw bytes", f"{where} byte {at}", ""))
    return leaks


def describe(leaks: list[Leak]) -> str:
    """One line per leak: kind, label, encoding and place; never the secret."""
    return "\n".join(f"{k.kind} [{k.label}] as {k.form} in {k.where}: {k.context}" for k in leaks)


# --------------------------------------------------------------------- tests


def test_no_secret_in_any_log(run: Run) -> None:
    """Node logs go to collectors and tickets; LevelDB's write-ahead logs hold what went on
    chain. Neither may hold a key, a salt or a personal value."""
    leaks = [
        leak
        for path, data in run.logs.items()
        for leak in scan(str(path.relative_to(run.net.root)), data, run.secrets)
    ]
    assert not leaks, "secrets in the testnet's logs:\n" + describe(leaks)


def test_no_secret_in_the_demo_output(run: Run) -> None:
    """The demo narrates a kiosk screen: material names, statuses, counts, license ids and
    the audit's item codes. No key, salt or personal value belongs there."""
    leaks = scan("demo output", run.demo_output.encode(), run.secrets)
    assert not leaks, "secrets in the demo's output:\n" + describe(leaks)


def test_the_check_is_not_vacuous(run: Run) -> None:
    """The two tests above pass trivially on empty logs, a demo that stopped early, a
    secrets list that missed a category, or a scanner that cannot see; rule those out."""
    assert run.exit_codes == [0] * len(run.net.dirs), "a node did not stop cleanly"
    node_logs = {
        d: run.logs.get(d / "node.log", b"").decode(errors="replace") for d in run.net.dirs
    }
    for d, text in node_logs.items():
        assert "node started" in text, f"{d.name}/node.log has no start line"
    # The demo ran to its end, and both audits answered.
    out = run.demo_output
    assert out.count("区块链获取") == len(SPECS) and "permit issued" in out
    assert out.count("8. audit trail") == 2 and " denied " in out
    # Each refusal reached the kiosk and the provider logged it with its reason.
    log_lines = [ln for text in node_logs.values() for ln in text.splitlines()]
    denied_lines = [ln for ln in log_lines if "pull denied" in ln]
    for fragment, reason in zip((NO_GRANT, WRONG_KEY, FOREIGN_ITEM), run.denials, strict=True):
        assert fragment in reason, f"unexpected refusal reason: {reason}"
        assert any(fragment in ln for ln in denied_lines), f"no log line for {fragment!r}"
    # Every kind of secret is searched for, in the numbers the run used.
    count = {kind: sum(s.kind == kind for s in run.secrets) for kind in KINDS}
    nodes = len(run.net.dirs)
    assert count[ED25519_KEY] == 2 * nodes + 2, count  # validator + tx key each, client, kiosk
    assert count[SUBJECT_KEY] == 1, count
    assert count[TLS_KEY] == nodes + 3, count  # each node, client, kiosk, CA
    assert count[SALT] == sum(len(s.values) for s in SPECS) + 1, count  # + the permit's
    assert count[PERSONAL] >= len({v for s in SPECS for v in s.values.values()}), count
    assert all(s.forms for s in run.secrets)
    # The scanner sees each kind, in each encoding, in text and in binary.
    for kind in KINDS:
        s = next(s for s in run.secrets if s.kind == kind)
        for name, needle in s.forms:
            probe = f"2026-01-01 [info] probe value={needle.upper()} end\n".encode()
            found = {k.label for k in scan("probe", probe, run.secrets)}
            assert s.label in found, f"the scanner misses a {kind} as {name}"
        found = {k.label for k in scan("probe", b"\x00\x01" + s.raw + b"\xff", run.secrets)}
        assert s.label in found, f"the scanner misses a {kind} as raw bytes"
