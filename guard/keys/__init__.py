"""Keys: the master key each host is given (guard.keys.material) and the signing keys every host shares
through the database (guard.keys.store)."""

from guard.keys.material import KID_PATTERN, PURPOSES, Keyring, Purpose, SigningKey

__all__ = ["KID_PATTERN", "PURPOSES", "Keyring", "Purpose", "SigningKey"]
