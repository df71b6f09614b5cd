"""A department's setup on chain, as one call: before its licenses can be anchored (by the
watcher or by hand) the issuing department registers its duty, publishes the catalog
entry of the data it shares and defines the license type. Re-running is harmless: records
that already exist are left as they are."""

from __future__ import annotations

import nacl.signing

from chains.codes import ALREADY_EXISTS
from client.txs import send_message
from protos import api_pb2_grpc as api_grpc
from protos import government_pb2 as government


def publish_license_type(
    stub: api_grpc.ClientStub,
    chain_id: str,
    key: nacl.signing.SigningKey,
    department: str,
    type_code: str,
    name: str,
    holder: str,
    item_codes: list[str],
) -> None:
    """Duty `DUTY-<type>`, catalog entry `RES-<type>` and the license type, each committed
    (or found already there) before the next."""
    items = [government.DataItem(code=c, name=c, type="string", sensitivity=3) for c in item_codes]
    resource = f"RES-{type_code}"
    duty = government.RegisterDuty(code=f"DUTY-{type_code}", name=name, legal_basis="statute")
    entry = government.CatalogEntry(
        resource_code=resource,
        name=name,
        provider=department,
        duties=[f"DUTY-{type_code}"],
        items=items,
        sharing=government.CONDITIONAL,
        sharing_conditions="with the holder's consent",
        update_cycle="realtime",
        source_endpoint=f"{department}/licenses",
    )
    license_type = government.LicenseType(
        code=type_code,
        name=name,
        department=department,
        holder_type=holder,
        items=items,
        catalog_resource=resource,
    )
    for channel, tx_type, payload in (
        ("catalog", "catalog.register_duty", duty),
        ("catalog", "catalog.publish_entry", entry),
        ("license", "license.register_type", license_type),
    ):
        send_message(stub, chain_id, channel, tx_type, payload, key, (0, ALREADY_EXISTS))
