"""G.711 µ-law codec (PCMU), bit-exact with the ITU-T reference and CPython's old ``audioop``.

``audioop`` is removed in Python 3.13, so this module builds two lookup tables once at import:
a 65536-entry encoder table indexed by the int16 sample's bit pattern and a 256-entry decoder
table. Each 20 ms telephony frame then costs a single numpy gather.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# G.711 works on 14-bit magnitudes; the bias makes every segment boundary a power of two.
_BIAS = 0x84
_CLIP = 8159  # largest 14-bit magnitude that still fits after adding the bias (8159 + 33 = 8192)


def _build_encode_table() -> npt.NDArray[np.uint8]:
    """µ-law code for every int16 value, indexed by the value's uint16 bit pattern."""
    linear = np.arange(-32768, 32768, dtype=np.int32)
    # The reference codec keeps the top 14 bits with an arithmetic (flooring) shift; doing the
    # same is what makes negative values land in the same code as the reference.
    pcm14 = linear >> 2
    negative = pcm14 < 0
    magnitude = np.minimum(np.where(negative, -pcm14, pcm14), _CLIP) + (_BIAS >> 2)
    # Segment = position of the highest set bit above bit 5 (magnitudes are in [33, 8192]).
    segment = np.floor(np.log2(magnitude)).astype(np.int32) - 5
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    # Only the clipped magnitude 8192 reaches segment 8; the reference maps it to the loudest
    # code rather than letting the segment overflow into the sign bit.
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    # µ-law transmits the ones' complement; the sign bit is set for non-negative values.
    code = np.where(negative, code ^ 0x7F, code ^ 0xFF).astype(np.uint8)
    table = np.empty(65536, dtype=np.uint8)
    table[linear.astype(np.uint16)] = code
    table.setflags(write=False)
    return table


def _build_decode_table() -> npt.NDArray[np.int16]:
    """Linear int16 value for each of the 256 µ-law codes."""
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    segment = (code & 0x70) >> 4
    magnitude = (((code & 0x0F) << 3) + _BIAS) << segment
    linear = np.where(code & 0x80, _BIAS - magnitude, magnitude - _BIAS).astype(np.int16)
    linear.setflags(write=False)
    return linear


_ENCODE_TABLE = _build_encode_table()
_DECODE_TABLE = _build_decode_table()


def mulaw_decode(data: bytes | bytearray | memoryview) -> npt.NDArray[np.int16]:
    """Decodes G.711 µ-law bytes into int16 PCM.

    Args:
        data: µ-law codes, one byte per sample (e.g. a Twilio media payload after base64).

    Returns:
        A new int16 array with one sample per input byte, in [-32124, 32124].
    """
    return _DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)]


def mulaw_encode(samples: npt.NDArray[np.int16]) -> bytes:
    """Encodes int16 PCM into G.711 µ-law bytes.

    Args:
        samples: 1-D int16 samples. Values beyond ±32124 saturate to the loudest code, as in
            the reference codec.

    Returns:
        One µ-law byte per sample.

    Raises:
        TypeError: if ``samples`` is not int16 (silently reinterpreting float audio as integers
            would produce loud noise instead of an error).
    """
    if samples.dtype != np.int16:
        raise TypeError(f"mulaw_encode expects int16 samples, got {samples.dtype}")
    return _ENCODE_TABLE[samples.view(np.uint16)].tobytes()
