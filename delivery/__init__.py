"""Delivery: bundle builds, their acceptance and their use as gate evidence in the console."""
