"""copytrader: keystore."""
