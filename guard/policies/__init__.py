"""Access policy (quotas, profiles, separation of duties) and detection rule types. Pure: no database."""
