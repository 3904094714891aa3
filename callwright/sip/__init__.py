"""SIP signalling for trunks and PBXs: messages, SDP, digest, dialogs, the UDP user agent.

Media (RTP/RTCP, G.711, RFC 4733 keys) is `transports/rtp.py`; wiring calls into the session
pipeline is `server/sip.py`. Why this is our own small core rather than a library: docs/sip.md.
"""
