"""The bootstrap installer shipped inside every bundle: verify a bundle, then install it atomically.

Standard library + `cryptography` + the pure trust and licensing cores, so it runs on a customer machine with
no network and no Django.
"""
