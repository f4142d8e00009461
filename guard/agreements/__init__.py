"""The confidentiality agreement in force and who accepted which version."""
