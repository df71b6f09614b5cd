"""What a kiosk needs to run: where the validators are, its TLS identity, the terminal it
is (id and key), the department it works for (id and key: pull requests are signed with
it), the consortium's subject key (ID numbers become keyed hashes with it), the service
items it offers and how long an idle session lives.

`cli/kiosk_config.py` fills one from a testnet directory or a kiosk.toml; tests build one
directly. Keys are never shown in a repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from client.hall import Hall, Network
from client.tls import TlsFiles
from client.txs import TxKey

IDLE_TIMEOUT_S = 120.0
CONSENT_VALID_S = 30 * 60


@dataclass(frozen=True)
class KioskSettings:
    network: Network
    terminal_id: str
    terminal_key: TxKey = field(repr=False)  # of the chain's suite (SM2 on sm2-sm3)
    requester: str
    requester_key: TxKey = field(repr=False)
    subject_key: bytes = field(repr=False)
    items: tuple[str, ...]
    idle_timeout_s: float = IDLE_TIMEOUT_S
    consent_valid_s: int = CONSENT_VALID_S
    pull_tls: TlsFiles | None = None
    listen: str = ""  # from a kiosk.toml; the command line's --listen wins

    def hall(self) -> Hall:
        """The SDK's kiosk flow for this terminal and department."""
        return Hall(
            self.network,
            self.terminal_id,
            self.terminal_key,
            self.requester,
            self.requester_key,
            self.subject_key,
            pull_tls=self.pull_tls,
        )
