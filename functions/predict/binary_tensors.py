"""The binary tensor data extension of the Open Inference Protocol (Triton's, which KServe serves too).

A body is a JSON header of `Inference-Header-Content-Length` bytes, then the raw bytes of each
tensor that the JSON marks with `parameters.binary_data_size`, in the order the JSON lists them:
little-endian, row-major, no padding; a BYTES element is a 4-byte little-endian length and the
bytes. This module splits and joins such bodies and converts tensors; it knows nothing of HTTP
(the caller reads and sets the header) nor of what the tensors mean.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import orjson

from .errors import BadRequest, InvalidInput

HEADER_LENGTH = "Inference-Header-Content-Length"
EXTENSION = "binary_tensor_data"  # its name in the server metadata's `extensions`

# The fixed-size numeric datatypes, as laid out on the wire whatever this machine's byte order.
DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in {
        "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
        "INT8": "i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
        "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    }.items()
}  # fmt: skip

# A byte count, in ASCII digits: no sign, no Unicode digits, and short enough for int() to take.
_BYTE_COUNT = re.compile(r"[0-9]{1,18}")


def split(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """The JSON header and the tensor bytes after it (a view, not a copy). Without a header
    length the whole body is JSON and no tensor bytes follow."""
    if header_length is None:
        return body, memoryview(b"")
    value = header_length.strip()
    if not _BYTE_COUNT.fullmatch(value):
        raise BadRequest(f"{HEADER_LENGTH} must be a number of bytes (digits only), got {value[:24]!r}")
    length = int(value)
    if length == 0:
        raise BadRequest(f"{HEADER_LENGTH} is 0: the JSON inference header must come first in the body")
    if length > len(body):
        raise BadRequest(f"{HEADER_LENGTH} is {length} but the request body has only {len(body)} bytes")
    return body[:length], memoryview(body)[length:]


def slices(data: memoryview, sizes: Sequence[int | None]) -> list[memoryview | None]:
    """Each tensor's bytes, cut from `data` by its `binary_data_size` (None: the tensor is in the JSON)."""
    declared = sum(size for size in sizes if size is not None)
    if declared != len(data):
        raise BadRequest(
            f"{len(data)} bytes of tensor data follow the JSON header, but the inputs' "
            f"parameters.binary_data_size add up to {declared}"
        )
    cut: list[memoryview | None] = []
    offset = 0
    for size in sizes:
        if size is None:
            cut.append(None)
        else:
            cut.append(data[offset : offset + size])
            offset += size
    return cut


def decode(data: memoryview, datatype: str, shape: Sequence[int]) -> np.ndarray:
    """A numeric tensor from its raw bytes, flat; the byte count must be what the shape needs."""
    dtype = DTYPES[datatype]
    needed = math.prod(shape) * dtype.itemsize
    if len(data) != needed:
        raise InvalidInput(
            f"binary_data_size is {len(data)} bytes, but shape {list(shape)} of {datatype} takes {needed}"
        )
    return np.frombuffer(data, dtype=dtype)


def _encode_tensor(values: list[Any], datatype: str) -> bytes:
    if datatype == "BYTES":
        items = [v if isinstance(v, bytes) else str(v).encode() for v in values]
        return b"".join(struct.pack("<I", len(item)) + item for item in items)
    return np.asarray(values, dtype=DTYPES[datatype]).tobytes()


def join(header: dict[str, Any], binary: Collection[str]) -> tuple[bytes, int]:
    """A body with the named outputs' data moved out of the JSON header into raw bytes after it,
    and the header's length. `header` is a response as JSON-ready data; it is changed in place."""
    tensors = []
    for output in header["outputs"]:
        if output["name"] in binary:
            raw = _encode_tensor(output.pop("data"), output["datatype"])
            output["parameters"] = {**(output.get("parameters") or {}), "binary_data_size": len(raw)}
            tensors.append(raw)
    json_header = orjson.dumps(header)
    return b"".join((json_header, *tensors)), len(json_header)
