"""Venues the live router can send orders to: an in-process paper venue and ccxt exchanges."""
