"""The console database as the second independent place of the trust root pin and the witness marks."""
