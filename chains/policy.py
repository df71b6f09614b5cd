"""Per-channel write policies: which department roles may submit which tx types.

A channel's genesis may carry `app.write_policy`, a map from tx type to the roles allowed
to sign it, with `"*"` as the type for everything not listed and `"*"` as a role for
"any signer, registered or not":

    "write_policy": {"license.anchor": ["department"], "*": ["department", "terminal"]}

The policy is checked twice, for different reasons: at admission, so a client without
the right gets PERMISSION_DENIED and nothing of its call is admitted; and again by the
executor, deterministically, so a faulty primary cannot put a forbidden tx in a block.
The applications keep their own finer rules (a terminal may only record its own
sessions, and so on); the policy is the coarse gate in front of them. A genesis without
a policy allows every signer (the key-value channels of benchmarks and tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chains.base import Departments
from chains.tx import DecodedTx

ANY = "*"


class PolicyError(ValueError):
    """A malformed `write_policy` in a genesis."""


class WritePolicy:
    def __init__(
        self, rules: Mapping[str, frozenset[str]] | None, departments: Departments
    ) -> None:
        self.rules = dict(rules) if rules is not None else None
        self.departments = departments  # rebuilt when a key rotates (node/executor.py)
        self._roles_of = {
            key: dept.roles for dept in departments.by_id.values() for key in dept.keys
        }
        self._dept_of = {key: dept.id for dept in departments.by_id.values() for key in dept.keys}

    @classmethod
    def from_params(cls, params: Any, departments: Departments) -> WritePolicy:
        if params is None:
            return cls(None, departments)
        if not isinstance(params, dict):
            raise PolicyError("write_policy must map tx types to lists of roles")
        rules: dict[str, frozenset[str]] = {}
        for tx_type, roles in params.items():
            if not isinstance(tx_type, str) or not tx_type:
                raise PolicyError("write_policy: a tx type must be a non-empty string")
            if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
                raise PolicyError(f"write_policy[{tx_type!r}] must be a list of role names")
            rules[tx_type] = frozenset(roles)
        return cls(rules, departments)

    def denies(self, tx: DecodedTx) -> str | None:
        """Why the signer of `tx` may not submit its type here, or None if it may."""
        if self.rules is None:
            return None
        tx_type = tx.body.type
        allowed = self.rules.get(tx_type, self.rules.get(ANY))
        if not allowed:
            return f"no role may submit {tx_type!r} on this channel"
        if ANY in allowed:
            return None
        roles = self._roles_of.get(tx.signer)
        if roles is None:
            return f"the signer is not a registered department key; {tx_type!r} needs a role"
        if roles & allowed:
            return None
        return (
            f"{self._dept_of[tx.signer]!r} (roles {', '.join(sorted(roles)) or 'none'}) may not "
            f"submit {tx_type!r}; it needs one of: {', '.join(sorted(allowed))}"
        )


def government_write_policy(channel: str) -> dict[str, list[str]]:
    """The write policy `testnet init --app government` puts in each channel's genesis: what
    happens at the counter may come from terminals (kiosks), the rest only from
    departments. `record_auth` is open here because its signer is a terminal registered
    on the authentication channel itself, which that application checks."""
    dept, terminal = "department", "terminal"
    both = [dept, terminal]
    policies: dict[str, dict[str, list[str]]] = {
        "license": {ANY: [dept]},
        "catalog": {ANY: [dept]},
        "authentication": {"authentication.record_auth": [ANY], ANY: [dept]},
        "authorization": {
            "authorization.create_grant": [terminal],
            "authorization.revoke_grant": both,
            "authorization.close_grant": both,
            ANY: [dept],
        },
        "service": {
            "service.open_case": both,
            "service.attach_material": both,
            "service.submit_case": both,
            ANY: [dept],
        },
    }
    return policies.get(channel, {ANY: [ANY]})
