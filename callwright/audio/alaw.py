"""G.711 A-law codec (PCMA), the ITU-T reference algorithm, as two lookup tables.

Built once on first use: a 65536-entry encoder table indexed by the int16 sample's bit
pattern and a 256-entry decoder table, so a 20 ms frame costs one numpy gather.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

_SEGMENT_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _encode_one(sample: int) -> int:
    pcm = sample >> 3  # A-law works on 13 bits
    if pcm >= 0:
        mask = 0xD5
    else:
        mask, pcm = 0x55, -pcm - 1
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if pcm <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    code = segment << 4
    code |= (pcm >> 1) & 0x0F if segment < 2 else (pcm >> segment) & 0x0F
    return code ^ mask


def _decode_one(code: int) -> int:
    code ^= 0x55
    value = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    if segment == 0:
        value += 8
    elif segment == 1:
        value += 0x108
    else:
        value = (value + 0x108) << (segment - 1)
    return value if code & 0x80 else -value


@functools.cache
def _tables() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int16]]:
    encode = np.empty(65536, dtype=np.uint8)
    for value in range(-32768, 32768):
        encode[value & 0xFFFF] = _encode_one(value)
    decode = np.array([_decode_one(c) for c in range(256)], dtype=np.int16)
    encode.setflags(write=False)
    decode.setflags(write=False)
    return encode, decode


def alaw_encode(samples: npt.NDArray[np.int16]) -> bytes:
    """int16 samples → A-law bytes."""
    encode, _ = _tables()
    return encode[samples.astype(np.int16, copy=False).view(np.uint16)].tobytes()


def alaw_decode(data: bytes) -> npt.NDArray[np.int16]:
    """A-law bytes → int16 samples."""
    _, decode = _tables()
    return decode[np.frombuffer(data, dtype=np.uint8)]
