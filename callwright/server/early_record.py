"""A phone stream's call record, written before its WebSocket upgrade is accepted.

Between the upgrade and the stream's `start` message (which names the call) a worker may die;
a record written only once the session starts would then never exist, and nobody could tell
the call had happened. So the record is written first, tagged with this worker like any other
(a survivor marks it cut off if the worker stops), and the session later sets the caller and
parameters the `start` message brought (`CallStore.update_call_details`). A stream refused
after the upgrade ends this same record as rejected.
"""

from __future__ import annotations

import time
import uuid

from callwright.agent.stack import AgentStack
from callwright.store.base import CallRecord
from callwright.store.sqlite import CallExistsError
from callwright.telephony.calls import PendingCall


async def record_before_upgrade(
    stack: AgentStack, channel: str, ref: str, pending: PendingCall | None
) -> str:
    """Records the call a stream token (`ref`) is for as active; returns its call id.

    The id is the answered webhook's (`pending`) when this worker has it; a fresh one
    otherwise, or when that id is already recorded (a second stream for the same call, which
    is refused once its `start` message names the call).
    """
    params = dict(pending.parameters) if pending is not None else {}
    if pending is not None:
        params["direction"] = pending.direction  # ours: no parameter names it
    params["call_sid"] = (pending.call_sid if pending is not None else None) or ref
    redactor = stack.observability.redactor.for_call(params)
    caller = pending.caller if pending is not None else None
    record = CallRecord(
        call_id=pending.call_id if pending is not None else uuid.uuid4().hex,
        channel=channel,
        caller=None if caller is None else redactor.text(caller),
        started_at=time.time(),
        parameters=redactor.value(params),
    )
    try:
        await stack.store.start_call(record)
    except CallExistsError:
        record.call_id = uuid.uuid4().hex
        await stack.store.start_call(record)
    return record.call_id


async def end_rejected(stack: AgentStack, call_id: str, code: str, message: str) -> None:
    """Ends an early record whose stream was refused after the upgrade."""
    await stack.store.add_event(call_id, "rejected", 0.0, {"code": code, "message": message})
    await stack.store.end_call(call_id, "rejected", f"{code}: {message}")
