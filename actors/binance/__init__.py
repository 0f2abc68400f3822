"""copytrader: actors/binance, the thin asyncio Binance client.

Modules (import what you need; nothing is imported here so processes stay light):
- endpoints: `Endpoints.live()/testnet()/local(base)`
- signing:   `make_signer(key_type, api_key, secret)` -> `Signer`
- params:    parameter formatting (Decimal as plain strings, no floats)
- errors:    `StatusUnknown` (may have executed) vs `Rejected` (did not), `classify`
- rest:      `RestClient` (public / api_key_only / signed, time sync, weight tracking)
- wsapi:     `WsApiClient` (WebSocket API: orders, logon, user data subscriptions)
- userdata:  `FuturesUserStream`, `SpotUserStream`, `MarginUserStream`
- wire:      Binance* msgspec structs and `decode_user_event`
- filters:   symbol filters and rounding (separate owner)
"""
