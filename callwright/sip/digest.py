"""SIP digest authentication (RFC 3261 22, RFC 2617 and RFC 8760: MD5 and SHA-256, qop=auth).

Server side: `DigestChallenger` issues nonces that carry their issue time, a random part and
an HMAC, so checking one needs no per-caller state (a flood of INVITEs cannot fill memory with
nonces), and a nonce is valid for `nonce_ttl_s`. Credentials that hold are remembered by nonce with
their nonce count (`nc`), for the nonce's life: the same Authorization header sent again (a
replay by whoever saw it) has a count not above the last one, and is refused as stale, so a
genuine client asks for a fresh nonce. Only checked credentials are remembered (a stranger
cannot fill the record) and at most `max_nonces` of them. A retransmitted INVITE never gets
here: the transaction layer answers it with the response already sent. Client side:
`authorization` answers a 401/407 challenge (registration to a trunk, an INVITE through a PBX).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
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
_NONCE_COUNT = re.compile(r"[0-9a-fA-F]{8}")  # RFC 2617: nc-value = 8LHEX


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
        max_nonces: used nonces remembered; past it the first used is forgotten, and every
            nonce issued no later than it is then refused as stale (a replay cannot slip in
            through a nonce that is no longer remembered).
    """

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str],
        nonce_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_nonces: int = 10_000,
    ) -> None:
        self.realm = realm
        self._users = dict(users)
        self._ttl = nonce_ttl_s
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._counts = _NonceCounts(nonce_ttl_s, max_nonces)

    def _sign(self, signed: str) -> str:
        return hmac.new(self._key, signed.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self, stale: bool = False) -> str:
        """A WWW-Authenticate value with a fresh nonce."""
        # Random as well as timed: two callers challenged in the same second count apart.
        signed = f"{int(self._clock()):x}.{secrets.token_hex(8)}"
        nonce = f"{signed}.{self._sign(signed)}"
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
        signed, _, mac = nonce.rpartition(".")
        stamp = signed.partition(".")[0]
        if not hmac.compare_digest(mac, self._sign(signed)):
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
        if qop is not None and not _NONCE_COUNT.fullmatch(p.get("nc", "")):
            return DigestCheck(None, "a nonce count that is not 8 hex digits")
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
        # Without qop there is no count: such a nonce holds for one request only.
        count = int(p["nc"], 16) if qop is not None else 0
        if not self._counts.use(nonce, issued, count, self._clock()):
            return DigestCheck(None, "credentials used before (a replay?)", stale=True)
        return DigestCheck(user, None)


class _NonceCounts:
    """The highest nonce count each used nonce came with, while the nonce is valid.

    Args:
        ttl_s: a nonce's life from its issue.
        limit: nonces remembered at most.
    """

    def __init__(self, ttl_s: float, limit: int) -> None:
        self._ttl = ttl_s
        self._limit = limit
        # nonce → (highest count, issue time), in the order of first use
        self._seen: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._floor = -1  # nonces issued up to this second may have been forgotten

    def use(self, nonce: str, issued: int, count: int, now: float) -> bool:
        """Records a use of `nonce` with `count`; False if not above the last (or forgotten)."""
        self._forget_expired(now)
        seen = self._seen.get(nonce)
        if seen is not None:
            if count <= seen[0]:
                return False
        elif issued <= self._floor:
            return False
        self._seen[nonce] = (count, issued)
        while len(self._seen) > self._limit:
            _, (_, forgotten) = self._seen.popitem(last=False)
            self._floor = max(self._floor, forgotten)
        return True

    def _forget_expired(self, now: float) -> None:
        # In the order of first use, which is within a nonce's life of its issue: an expired
        # one behind a live one waits at most one life more (and is refused as expired before
        # it is looked up here), and `limit` bounds them all regardless.
        while self._seen:
            _, issued = next(iter(self._seen.values()))
            if now - issued <= self._ttl:
                break
            self._seen.popitem(last=False)
