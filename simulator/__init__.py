"""copytrader: simulator."""
