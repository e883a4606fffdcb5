"""The curated question bank: YAML files under ``data/``, validated at load."""

from chains.bank.loader import Bank, RoleSpec, load_bank

__all__ = ["Bank", "RoleSpec", "load_bank"]
