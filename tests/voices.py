"""The caller voice for spoken tests that check what the agent understood.

flite's `slt`: Whisper tiny.en heard the lines these tests say (opening hours, a cancellation,
"please stop calling me", an order number) right in it, at 16 kHz and over the phone band,
where it heard Festival's "opening hours" as "opening errors" and got about a third of the
words of espeak-ng at 160 wpm wrong on the phone band. A test about a call's plumbing (a
transfer, a campaign's outcomes, the talk page) then fails on the plumbing, not on a word the
recogniser misheard. Tests of the recogniser's robustness use the harder voices on purpose
(the eval suite, `bench/turn_taking.py`). No voice is heard right everywhere: over the Twilio
stream tiny.en once heard this one's "opening hours" as "opening now or", so the Twilio tests
keep the espeak voice at 140 wpm whose lines they were written for.
"""

from __future__ import annotations

from callwright.sim.voices import VoiceAsTts, parse_voice

CLEAR_CALLER = VoiceAsTts(parse_voice("flite:slt"))
