"""SIP messages (RFC 3261 section 7): a strict parser and the responses we build from requests.

Only what a user agent for trunks and PBXs needs: a request or status line, headers (compact
forms expanded, folded lines joined), and a body whose length `Content-Length` gives exactly.
Anything else is refused with a reason: a datagram over `MAX_MESSAGE_BYTES` (513 Message Too
Large), more than `MAX_HEADERS` headers, a missing mandatory header, a bad CSeq, a body that
does not match its length. The parser never allocates more than the datagram it was given.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 8192  # larger than any INVITE we take; UDP datagrams over the MTU fragment
MAX_HEADERS = 80
# Parameters read of one header value (";tag=...;branch=..."): a Via or a From has a handful;
# reading thousands cost milliseconds a datagram on the event loop, from anyone.
MAX_HEADER_PARAMS = 32
MANDATORY = ("via", "from", "to", "call-id", "cseq")
COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "x": "session-expires",
    "r": "refer-to",
    "b": "referred-by",
    "o": "event",
    "e": "content-encoding",
    "s": "subject",
    "u": "allow-events",
}
TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
# C0 controls and DEL, except TAB (whitespace in SIP) and the CRLF that ends each line.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n")
CONTROL_IN_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in one line: no CR or LF either
_PARAM = re.compile(r";\s*([^=;\s]+)(?:=(\"[^\"]*\"|[^;,\s]*))?")


def is_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also takes "²" and other digits `int` refuses."""
    return text.isascii() and text.isdigit()


class SipParseError(Exception):
    """The bytes are not a SIP message we accept; `status` is the response to send (if any)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class SipMessage:
    """One request (`method` set) or response (`status` set)."""

    method: str | None = None
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # lower-case names, in order
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def get_all(self, name: str) -> list[str]:
        """Every value of header `name`, comma-separated lists split (Via, Route...)."""
        name = name.lower()
        out: list[str] = []
        for k, v in self.headers:
            if k == name:
                out.extend(_split_list(v))
        return out

    def set(self, name: str, value: str) -> None:
        """Replaces every `name` header with one."""
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((name.lower(), value))

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header."""
        return parse_cseq(self.get("cseq") or "")

    def to_bytes(self) -> bytes:
        """The message on the wire, Content-Length computed."""
        if self.method is not None:
            lines = [f"{self.method} {self.uri} SIP/2.0"]
        else:
            lines = [f"SIP/2.0 {self.status} {self.reason}"]
        for name, value in self.headers:
            if name != "content-length":
                lines.append(f"{_canonical(name)}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def _canonical(name: str) -> str:
    special = {
        "call-id": "Call-ID",
        "cseq": "CSeq",
        "www-authenticate": "WWW-Authenticate",
        "min-se": "Min-SE",
    }
    return special.get(name) or "-".join(p.capitalize() for p in name.split("-"))


def _split_list(value: str) -> list[str]:
    """Splits a comma-separated header value, not inside quotes or <...>."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def parse_cseq(value: str) -> tuple[int, str]:
    """(number, method) of a CSeq value.

    Raises:
        SipParseError: not `<digits> <method>`.
    """
    number, _, method = value.strip().partition(" ")
    method = method.strip()
    if not is_number(number) or len(number) > 10 or not TOKEN.match(method or "?"):
        raise SipParseError(400, "Bad CSeq")
    return int(number), method


def parse_message(data: bytes) -> SipMessage:
    """Parses one datagram.

    Raises:
        SipParseError: the message is refused (status 0: not worth an answer).
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError(513, "Message Too Large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise SipParseError(400, "No End Of Headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(400, "Headers Not UTF-8") from exc
    if _CONTROL.search(text):
        # A lone CR or LF, an ESC: echoed into our answers (Call-ID, Via), dialog state and
        # logs, it would add header lines and forge log lines.
        raise SipParseError(400, "Control Character In Headers")
    lines = text.split("\r\n")
    msg = _start_line(lines[0])
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and msg.headers:  # folded continuation (RFC 3261 7.3.1)
            name, value = msg.headers[-1]
            msg.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not TOKEN.match(name):
            raise SipParseError(400, "Malformed Header")
        msg.headers.append((COMPACT.get(name, name), value.strip()))
        if len(msg.headers) > MAX_HEADERS:
            raise SipParseError(400, "Too Many Headers")
    for name in MANDATORY:
        if not msg.get(name):
            raise SipParseError(400, f"Missing {_canonical(name)}")
    _, method = msg.cseq
    if msg.method is not None and method != msg.method and msg.method != "ACK":
        raise SipParseError(400, "CSeq Method Mismatch")
    length_text = msg.get("content-length")
    if length_text is None:
        length = len(body)  # optional over UDP: the datagram ends the body
    elif not is_number(length_text) or len(length_text) > 6:
        raise SipParseError(400, "Bad Content-Length")
    else:
        length = int(length_text)
    if length > len(body):
        raise SipParseError(400, "Truncated Body")
    msg.body = body[:length]  # extra bytes after the body are ignored over UDP (18.3)
    return msg


def _start_line(line: str) -> SipMessage:
    if request := _REQUEST_LINE.match(line):
        method, uri = request.group(1), request.group(2)
        if ":" not in uri:
            raise SipParseError(400, "Bad Request-URI")
        return SipMessage(method=method, uri=uri)
    if status := _STATUS_LINE.match(line):
        return SipMessage(status=int(status.group(1)), reason=status.group(2))
    raise SipParseError(0, "Not A SIP Message")


def header_params(value: str) -> dict[str, str]:
    """The `;name=value` parameters after a header's main value (outside <...>), the first
    `MAX_HEADER_PARAMS` of them."""
    tail = value[value.rfind(">") + 1 :] if ">" in value else value
    found = itertools.islice(_PARAM.finditer(tail), MAX_HEADER_PARAMS)
    return {m.group(1).lower(): (m.group(2) or "").strip('"') for m in found}


def address_uri(value: str) -> str:
    """The URI of a name-addr or addr-spec (`"Bob" <sip:bob@x>;tag=1` → `sip:bob@x`)."""
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")].strip()
    return value.split(";", 1)[0].strip()


def uri_user_host(uri: str) -> tuple[str, str, int | None]:
    """(user, host, port) of a sip: URI (`user` may be empty)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split(";", 1)[0].split("?", 1)[0]
    user, _, hostport = rest.rpartition("@")
    host, _, port = hostport.partition(":")
    return user, host, int(port) if is_number(port) and len(port) <= 5 else None


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response_to(
    request: SipMessage, status: int, reason: str, to_tag: str | None = None
) -> SipMessage:
    """A response to `request`: its Via, From, To (with our tag), Call-ID and CSeq; and its
    Record-Route only in a response that may set up a dialog (101-299, RFC 3261 12.1.1)."""
    msg = SipMessage(status=status, reason=reason)
    # A refusal carrying a stranger's Record-Route back would send more bytes than came in (and
    # to a source address UDP cannot vouch for).
    names = ("via", "record-route") if 100 < status < 300 else ("via",)
    for name in names:
        for value in (v for k, v in request.headers if k == name):
            msg.add(name, value)
    msg.add("from", request.get("from") or "")
    to = request.get("to") or ""
    if to_tag and "tag" not in header_params(to):
        to = f"{to};tag={to_tag}"
    msg.add("to", to)
    msg.add("call-id", request.call_id)
    msg.add("cseq", request.get("cseq") or "")
    return msg
