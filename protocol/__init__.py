"""copytrader: protocol."""
