"""Security tests: one file per concern of the public-internet hardening."""
