"""Detection: the rule engine on the audit stream, alerts, responses, ingest, look-back, backtest."""
