"""The embedded default inputs: the claims ledger and the prior file (read with importlib.resources)."""
