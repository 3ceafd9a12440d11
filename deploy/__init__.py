"""Delivery of Core OEM: the bundle builder and bootstrap (`packaging`), pipeline files (`ci`)."""
