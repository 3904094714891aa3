"""Registration with a registrar (a PBX or trunk), RFC 3261 10, with digest authentication.

`Registration.run` registers, answers a 401/407 challenge once per attempt, refreshes before
the granted expiry runs out, retries with a back-off when the registrar refuses or is silent,
and unregisters (Expires: 0) when cancelled. Calls the registrar sends to the registered
contact arrive as any INVITE does (allow-list the registrar's address, or give its users).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from callwright.sip.digest import authorization
from callwright.sip.message import (
    SipMessage,
    header_params,
    is_number,
    new_branch,
    new_tag,
    uri_user_host,
)
from callwright.sip.ua import SipUserAgent

log = logging.getLogger(__name__)

RETRY_S = (5.0, 15.0, 30.0, 60.0)
UNREGISTER_WAIT_S = 5.0


class RegistrationError(Exception):
    """The registrar refused (status) or did not answer."""


class Registration:
    """One binding of `user` at `registrar` to this user agent's contact.

    Args:
        ua: the user agent (its address is the contact).
        registrar: the registrar's URI, e.g. `sip:pbx.example.com:5060`.
        user: the account (also the digest user name).
        password: the digest password.
        expires_s: the lifetime asked for.
        proxy: `(host, port)` to send through instead of the registrar's own address.
    """

    def __init__(
        self,
        ua: SipUserAgent,
        registrar: str,
        user: str,
        password: str,
        expires_s: int = 600,
        proxy: tuple[str, int] | None = None,
    ) -> None:
        self.ua = ua
        self.registrar = registrar
        self.user = user
        self._password = password
        self.expires_s = expires_s
        _, host, port = uri_user_host(registrar)
        self._domain = host
        self._destination = proxy or (host, port or 5060)
        self._call_id = secrets.token_hex(12)
        self._tag = new_tag()
        self._cseq = 0
        self.registered = asyncio.Event()
        self.granted_s = 0

    def _request(self, expires: int, auth: tuple[str, str] | None = None) -> SipMessage:
        self._cseq += 1
        aor = f"<sip:{self.user}@{self._domain}>"
        msg = SipMessage(method="REGISTER", uri=self.registrar)
        msg.add("via", self.ua.via(new_branch()))
        msg.add("max-forwards", "70")
        msg.add("from", f"{aor};tag={self._tag}")
        msg.add("to", aor)
        msg.add("call-id", self._call_id)
        msg.add("cseq", f"{self._cseq} REGISTER")
        msg.add("contact", f"{self.ua.contact(self.user)};expires={expires}")
        msg.add("expires", str(expires))
        if auth is not None:
            msg.add(*auth)
        return msg

    async def register(self, expires: int | None = None) -> int:
        """One registration (or, with 0, its removal); the lifetime granted.

        Raises:
            RegistrationError: refused, a second challenge, or no answer.
        """
        expires = self.expires_s if expires is None else expires
        request = self._request(expires)
        try:
            response = await self.ua.send_request(request, self._destination)
            if response.status in (401, 407):
                header = "www-authenticate" if response.status == 401 else "proxy-authenticate"
                answer = "authorization" if response.status == 401 else "proxy-authorization"
                challenge = response.get(header) or ""
                try:
                    credentials = authorization(
                        challenge, "REGISTER", self.registrar, self.user, self._password
                    )
                except ValueError as exc:
                    raise RegistrationError(str(exc)) from exc
                request = self._request(expires, (answer, credentials))
                response = await self.ua.send_request(request, self._destination)
        except TimeoutError as exc:
            raise RegistrationError(f"{self.registrar} did not answer") from exc
        if response.status // 100 != 2:
            raise RegistrationError(
                f"{self.registrar} answered {response.status} {response.reason}"
            )
        return _granted(response, self.ua.contact(self.user), expires)

    async def run(self) -> None:
        """Stays registered until cancelled, then unregisters."""
        failures = 0
        try:
            while True:
                try:
                    self.granted_s = await self.register()
                except RegistrationError as exc:
                    self.registered.clear()
                    delay = RETRY_S[min(failures, len(RETRY_S) - 1)]
                    failures += 1
                    log.warning(
                        "sip: registration as %s failed: %s; again in %.0f s", self.user, exc, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                self.registered.set()
                log.info(
                    "sip: registered as %s at %s for %d s",
                    self.user,
                    self.registrar,
                    self.granted_s,
                )
                # Refresh well before the binding lapses (RFC 3261 10.2.4 leaves when to us).
                await asyncio.sleep(max(self.granted_s * 0.8, min(self.granted_s, 30)))
        finally:
            if self.registered.is_set():
                self.registered.clear()
                with contextlib.suppress(RegistrationError, TimeoutError):
                    await asyncio.wait_for(self.register(0), UNREGISTER_WAIT_S)


def _granted(response: SipMessage, contact: str, asked: int) -> int:
    """The lifetime the registrar granted our contact (its Contact's expires, else Expires)."""
    ours = contact.strip("<>")
    for value in response.get_all("contact"):
        if ours in value:
            expires = header_params(value).get("expires", "")
            if is_number(expires):
                return int(expires)
    header = (response.get("expires") or "").strip()
    return int(header) if is_number(header) else asked
