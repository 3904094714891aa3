"""SIP digest authentication (RFC 3261 22, RFC 2617 and RFC 8760: MD5 and SHA-256, qop=auth).

Server side: `DigestChallenger` issues nonces that carry their own issue time and an HMAC, so
checking one needs no per-caller state (a flood of INVITEs cannot fill memory with nonces),
and a nonce is valid for `nonce_ttl_s`. Client side: `authorization` answers a 401/407
challenge (registration to a trunk, an INVITE through a PBX).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
# A parameter name begins only where no name character precedes it: unanchored, a run of name
# characters with no "=" would be scanned again from each of its positions (quadratic, on the
# event loop, for a header any stranger can send).
_PARAM = re.compile(r'(?<![A-Za-z0-9_-])([A-Za-z0-9_-]++)\s*+=\s*+("(?:[^"\\]|\\.)*+"|[^\s,]++)')
# Real credentials (a user, a realm, a nonce, a URI and a 64-digit SHA-256 response) fit in a
# few hundred characters; longer ones are refused unparsed.
MAX_DIGEST_CHARS = 2048


def parse_digest(value: str) -> dict[str, str]:
    """The parameters of a `Digest ...` challenge or credentials header (empty if not Digest,
    or longer than `MAX_DIGEST_CHARS`)."""
    if len(value) > MAX_DIGEST_CHARS:
        return {}
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {k.lower(): v.strip('"') for k, v in _PARAM.findall(rest)}


def _hash(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode()).hexdigest()


def digest_response(
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "00000001",
    cnonce: str = "",
) -> str:
    """The `response` value of RFC 2617 3.2.2.1 (no auth-int)."""
    ha1 = _hash(algorithm, f"{username}:{realm}:{password}")
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop:
        return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")


def authorization(
    challenge: str, method: str, uri: str, username: str, password: str, nc: int = 1
) -> str:
    """The Authorization (or Proxy-Authorization) value answering `challenge`.

    Raises:
        ValueError: not a digest challenge we can answer.
    """
    params = parse_digest(challenge)
    algorithm = params.get("algorithm", "MD5").upper()
    if "nonce" not in params or algorithm not in ALGORITHMS:
        raise ValueError(f"cannot answer challenge {challenge[:80]!r}")
    realm, nonce = params.get("realm", ""), params["nonce"]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise ValueError("the challenge wants only qop=auth-int")
    qop = "auth" if qops else None
    cnonce, count = secrets.token_hex(8), f"{nc:08x}"
    response = digest_response(
        algorithm, username, realm, password, method, uri, nonce, qop, count, cnonce
    )
    fields = [
        f'username="{username}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        f'response="{response}"',
        f"algorithm={algorithm}",
    ]
    if "opaque" in params:
        fields.append(f'opaque="{params["opaque"]}"')
    if qop:
        fields += [f"qop={qop}", f"nc={count}", f'cnonce="{cnonce}"']
    return "Digest " + ", ".join(fields)


@dataclass(frozen=True, slots=True)
class DigestCheck:
    """The outcome of checking credentials: the user if they hold, else why not."""

    user: str | None
    problem: str | None
    stale: bool = False


class DigestChallenger:
    """Issues challenges and checks credentials for one realm.

    Args:
        realm: the realm named in challenges.
        users: user name → password.
        nonce_ttl_s: how long a nonce stays valid.
        clock: wall seconds (injectable for tests).
    """

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str],
        nonce_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.realm = realm
        self._users = dict(users)
        self._ttl = nonce_ttl_s
        self._clock = clock
        self._key = secrets.token_bytes(32)

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self, stale: bool = False) -> str:
        """A WWW-Authenticate value with a fresh nonce."""
        stamp = f"{int(self._clock()):x}"
        nonce = f"{stamp}.{self._sign(stamp)}"
        tail = ", stale=true" if stale else ""
        return f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5, qop="auth"{tail}'

    def check(self, header: str | None, method: str) -> DigestCheck:
        """Checks an Authorization value sent with a `method` request."""
        if not header:
            return DigestCheck(None, "no credentials")
        p = parse_digest(header)
        user, nonce, uri, response = (
            p.get(k, "") for k in ("username", "nonce", "uri", "response")
        )
        if not (user and nonce and uri and response) or p.get("realm") != self.realm:
            return DigestCheck(None, "incomplete credentials or another realm")
        algorithm = p.get("algorithm", "MD5").upper()
        if algorithm not in ALGORITHMS:
            return DigestCheck(None, f"algorithm {algorithm} is not supported")
        stamp, _, mac = nonce.partition(".")
        if not hmac.compare_digest(mac, self._sign(stamp)):
            return DigestCheck(None, "a nonce we did not issue")
        try:
            issued = int(stamp, 16)
        except ValueError:
            return DigestCheck(None, "a nonce we did not issue")
        if self._clock() - issued > self._ttl:
            return DigestCheck(None, "the nonce expired", stale=True)
        password = self._users.get(user)
        if password is None:
            return DigestCheck(None, "unknown user")
        qop = p.get("qop") or None
        if qop not in (None, "auth"):
            return DigestCheck(None, f"qop {qop} is not supported")
        expected = digest_response(
            algorithm,
            user,
            self.realm,
            password,
            method,
            uri,
            nonce,
            qop,
            p.get("nc", ""),
            p.get("cnonce", ""),
        )
        if not hmac.compare_digest(expected, response.lower()):
            return DigestCheck(None, "wrong password")
        return DigestCheck(user, None)
