"""copytrader: actors."""
