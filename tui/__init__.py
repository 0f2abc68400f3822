"""copytrader: tui."""
