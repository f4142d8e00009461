"""Access requests, approvals, quota counters, content tokens, delivery and exports."""
