"""Dialers for campaign-runner tests: one places every call it is asked to, one fails every
answer as told; both count the calls they were asked for."""

from __future__ import annotations

from callwright.campaigns.dialing import Dialled


class CountingDialer:
    """Places every call at once; `calls` lists the numbers dialled, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.parameters: list[dict[str, str]] = []

    async def dial(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled:
        self.calls.append(to)
        self.parameters.append(dict(parameters))
        return Dialled(f"call-{len(self.calls)}", f"CA{len(self.calls):032d}")


class FailingDialer:
    """Takes every request (the call may be created), then fails the answer as told."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.calls: list[str] = []

    async def dial(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled:
        self.calls.append(to)
        raise self.failure
