"""Telephony: signed webhooks, stream tokens, TwiML, call control, status callbacks."""
