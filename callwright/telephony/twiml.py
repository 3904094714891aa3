"""TwiML documents, built with the official `twilio` package (escaping done right)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

DIAL_TIMEOUT_S = 25  # how long a transfer rings before it counts as not answered


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


def dial(
    number: str,
    caller_id: str | None = None,
    action: str | None = None,
    timeout_s: int = DIAL_TIMEOUT_S,
) -> str:
    """`<Dial>`: connects the caller to `number` (a transfer to a human).

    Args:
        number: the number dialled.
        caller_id: the number the person sees, if not the caller's.
        action: where the platform posts how the dial went (`DialCallStatus`: completed,
            busy, no-answer, failed, canceled) and takes what the call does next. Without
            it, a dial nobody answers ends the call, as nothing follows `<Dial>`.
        timeout_s: how long it rings before it counts as not answered.
    """
    response = VoiceResponse()
    attrs: dict[str, str | int] = {"timeout": timeout_s}
    if caller_id:
        attrs["caller_id"] = caller_id
    if action:
        attrs |= {"action": action, "method": "POST"}
    inner = Dial(**attrs)
    inner.number(number)
    response.append(inner)
    return str(response)


def offer_callback(prompt: str, answer_url: str, goodbye: str) -> str:
    """`<Gather>` a yes or a no to `prompt` (said, or the keys 1 and 2), posted to
    `answer_url`; with no answer, `goodbye` is said and the call hangs up."""
    response = VoiceResponse()
    gather = response.gather(
        input="speech dtmf", num_digits=1, action=answer_url, method="POST", timeout=6,
        speech_timeout="auto", hints="yes, no",
    )  # fmt: skip
    gather.say(prompt)
    response.say(goodbye)
    response.hangup()
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
