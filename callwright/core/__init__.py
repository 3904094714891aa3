"""The contracts every layer shares, importing nothing else of callwright.

- `responder.py`: the responder contract (turn context, reply events, tool calls) and the
  optional capabilities of responders and their factories;
- `timeline.py`: a reply's turn timeline on the caller's audio timeline;
- `clock.py`: the call's audio clock;
- `provider_events.py`: provider failures and fallbacks reported to the call being served.
"""
