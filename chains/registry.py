"""Which application a channel runs, from its genesis `app` section."""

from __future__ import annotations

import importlib
from typing import Any

from chains.base import Application, Departments
from chains.kv import KvApplication

# name in genesis -> (module, class); modules load on first use.
APPLICATIONS = {
    "kv": ("chains.kv", "KvApplication"),
    "catalog": ("chains.catalog", "CatalogApplication"),
    "license": ("chains.license", "LicenseApplication"),
    "authentication": ("chains.authentication", "AuthenticationApplication"),
    "authorization": ("chains.authorization", "AuthorizationApplication"),
    "service": ("chains.service", "ServiceApplication"),
}


class UnknownApplication(ValueError):
    pass


def make_application(params: dict[str, Any]) -> tuple[Application, Departments]:
    """The application named in a genesis `app` section (default: kv) and its departments."""
    name = params.get("name", "kv")
    if name not in APPLICATIONS:
        raise UnknownApplication(f"unknown application {name!r} (known: {', '.join(APPLICATIONS)})")
    departments = Departments.from_params(params.get("departments", []))
    if name == "kv":
        return KvApplication(), departments
    module, cls = APPLICATIONS[name]
    return getattr(importlib.import_module(module), cls)(), departments
