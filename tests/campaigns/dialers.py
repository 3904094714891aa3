"""A dialer for campaign-runner tests: it places every call it is asked to, and counts them."""

from __future__ import annotations

from callwright.campaigns.runner import Dialled


class CountingDialer:
    """Places every call at once; `calls` lists the numbers dialled, in order."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def dial(
        self, to: str, from_: str, parameters: dict[str, str], purpose: str | None
    ) -> Dialled:
        self.calls.append(to)
        return Dialled(f"call-{len(self.calls)}", f"CA{len(self.calls):032d}")
