"""Guard: brokers, rations and audits every look at a customer document."""

__version__ = "0.1.0"
