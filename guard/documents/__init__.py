"""Customer documents: metadata in the database, encrypted bytes in the vault."""
