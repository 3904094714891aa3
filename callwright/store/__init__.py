"""The call store: every call leaves a record."""

from callwright.store.base import CallDetail, CallRecord, CallStore, StoredEvent, Utterance

__all__ = ["CallDetail", "CallRecord", "CallStore", "StoredEvent", "Utterance"]
