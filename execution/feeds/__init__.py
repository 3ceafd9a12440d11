"""Market data for the daemon: a feed interface, the replay and ccxt feeds, and the staleness rule.

Pure (no Django). A feed only produces ``Bar`` values; ``MarketData`` keeps the latest ones per symbol and
decides staleness from the time each symbol last received data (the injected clock), never from bar time.
"""
