"""Transports: how a call's audio and control events get in and out."""

from callwright.transports.base import AudioIn, CallTransport, DtmfIn, HangupIn, InboundEvent

__all__ = ["AudioIn", "CallTransport", "DtmfIn", "HangupIn", "InboundEvent"]
