"""The primary account and its first tokens, created on first start."""

from __future__ import annotations

from api import ids
from api.storage.store import Store


async def ensure_primary_account(store: Store, now: int) -> str | None:
    """Create the primary account with a read-write and a read-only token if there is none.

    Returns the text to show the operator once (the tokens are stored only as digests), or None.
    """
    if await store.primary_accounts():
        return None
    account_id = ids.account_id(now)
    await store.create_account(
        {
            "id": account_id,
            "parent_id": None,
            "name": "Primary account",
            "status": "Active",
            "timezone": "0",
            "default_locations": ["nam"],
            "settings": {},
            "created": now,
        }
    )
    rw = await store.create_token(account_id, "rw", "created on first start", now)
    ro = await store.create_token(account_id, "ro", "created on first start", now)
    return (
        f"Created account {account_id}.\n"
        f"  read-write token: {rw}\n"
        f"  read-only token:  {ro}\n"
        "These tokens are shown only once; `vedette token create` makes more."
    )
