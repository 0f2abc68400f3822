"""copytrader: actors/binance."""
