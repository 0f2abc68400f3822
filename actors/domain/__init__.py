"""The domain (pure: no I/O, no asyncio): copy decisions, sizing, the one target, order legs.

decisions.py  what a slave does for one master fill, and to correct drift
target.py     the exact intended positions and the order a fill implies
orders.py     order intents, client order ids, legs within the exchange filters
sizing.py     k (fixed ratio / balance multiplier), caps, symbol filters
"""
