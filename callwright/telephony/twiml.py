"""TwiML documents, built with the official `twilio` package (escaping done right)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse


def connect_stream(
    stream_url: str,
    parameters: Mapping[str, str],
    after_url: str | None = None,
    status_callback: str | None = None,
    **stream_attrs: str,
) -> str:
    """`<Connect><Stream>`: a bidirectional media stream to `stream_url`.

    Args:
        stream_url: the wss:// URL of the stream endpoint (with its token).
        parameters: per-call data, sent as `<Parameter>`s (Twilio drops query strings).
        after_url: where Twilio goes when the stream ends (`<Redirect>`): lets us transfer
            or hang up a call without REST credentials.
        status_callback: where stream status events are POSTed.
        stream_attrs: more `<Stream>` attributes in snake_case (e.g. Telnyx's
            `bidirectional_mode="rtp"`).
    """
    response = VoiceResponse()
    connect = Connect()
    attrs = {"status_callback": status_callback} if status_callback else {}
    stream = connect.stream(url=stream_url, **attrs, **stream_attrs)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    if after_url:
        response.redirect(after_url, method="POST")
    return str(response)


def dial(number: str, caller_id: str | None = None) -> str:
    """`<Dial>`: connects the caller to `number` (a transfer to a human)."""
    response = VoiceResponse()
    attrs = {"caller_id": caller_id} if caller_id else {}
    inner = Dial(**attrs)
    inner.number(number)
    response.append(inner)
    return str(response)


def hangup() -> str:
    """`<Hangup/>`."""
    response = VoiceResponse()
    response.hangup()
    return str(response)


def reject() -> str:
    """`<Reject/>`: refuses an incoming call without answering it."""
    response = VoiceResponse()
    response.reject()
    return str(response)


def busy(message: str) -> str:
    """`<Say>` a short line, then `<Hangup/>`: a polite "we are busy" that costs no stream."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)
