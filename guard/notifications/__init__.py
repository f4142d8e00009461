"""Notifications to people (stored, listed at GET /notifications) and to a webhook through an outbox."""
