"""The binary tensor data extension on its own: splitting a body, cutting and decoding tensors,
joining a response that Triton's client reads back."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from predict import binary_tensors
from predict.errors import BadRequest, InvalidInput

BODY = b'{"inputs": []}' + bytes(range(8))


def test_without_a_header_length_the_whole_body_is_json() -> None:
    header, tensors = binary_tensors.split(BODY, None)
    assert header == BODY
    assert len(tensors) == 0


def test_the_header_length_splits_json_from_tensor_bytes() -> None:
    header, tensors = binary_tensors.split(BODY, " 14 ")
    assert header == b'{"inputs": []}'
    assert bytes(tensors) == bytes(range(8))


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "number of bytes"),
        ("abc", "number of bytes"),
        ("-1", "number of bytes"),
        ("1.5", "number of bytes"),
        ("+3", "number of bytes"),
        ("\u00b2", "number of bytes"),  # a Unicode digit: str.isdigit() says yes, int() says no
        ("9" * 5000, "number of bytes"),  # beyond int()'s 4,300 digits
        ("0", "is 0"),
        ("23", "only 22 bytes"),
        ("99999999999999", "only 22 bytes"),
    ],
)
def test_a_bad_header_length_is_a_400_that_says_why(value: str, words: str) -> None:
    with pytest.raises(BadRequest, match=words) as refused:
        binary_tensors.split(BODY, value)
    assert "Inference-Header-Content-Length" in refused.value.message
    assert len(refused.value.message) < 200


def test_slices_cut_in_order_and_must_add_up() -> None:
    data = memoryview(bytes(range(10)))
    first, json_input, second = binary_tensors.slices(data, [4, None, 6])
    assert (bytes(first or b""), json_input, bytes(second or b"")) == (bytes(range(4)), None, bytes(range(4, 10)))
    with pytest.raises(BadRequest, match=r"10 bytes of tensor data .* add up to 9"):
        binary_tensors.slices(data, [4, 5])
    with pytest.raises(BadRequest, match="add up to 0"):
        binary_tensors.slices(data, [None])


@pytest.mark.parametrize("datatype", sorted(binary_tensors.DTYPES))
def test_decode_reads_little_endian_whatever_the_machine(datatype: str) -> None:
    values = np.arange(6).astype(binary_tensors.DTYPES[datatype])
    big_endian = values.astype(binary_tensors.DTYPES[datatype].newbyteorder(">")).tobytes()
    decoded = binary_tensors.decode(memoryview(values.tobytes()), datatype, [2, 3])
    assert decoded.tolist() == values.tolist()
    if values.dtype.itemsize > 1:
        assert binary_tensors.decode(memoryview(big_endian), datatype, [2, 3]).tolist() != values.tolist()


def test_decode_refuses_a_size_the_shape_does_not_take() -> None:
    with pytest.raises(InvalidInput, match=r"binary_data_size is 12 bytes, but shape \[2, 2\] of FP32 takes 16"):
        binary_tensors.decode(memoryview(bytes(12)), "FP32", [2, 2])


def _response(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model_name": "m", "model_version": "1", "id": None, "outputs": outputs}


def test_join_moves_the_named_outputs_after_the_header_as_tritons_client_reads_them() -> None:
    header = _response(
        [
            {"name": "predict", "shape": [3], "datatype": "BYTES", "data": ["setosa", "", "virginica"]},
            {"name": "predict_proba", "shape": [3, 2], "datatype": "FP64", "data": [1.0, 0.0, 0.5, 0.5, 0.0, 1.0]},
            {"name": "codes", "shape": [3], "datatype": "INT64", "data": [0, -1, 2]},
        ]
    )
    body, length = binary_tensors.join(header, {"predict", "codes"})
    assert body[length:] == (
        struct.pack("<I", 6) + b"setosa" + struct.pack("<I", 0) + struct.pack("<I", 9) + b"virginica"
    ) + struct.pack("<3q", 0, -1, 2)
    result = triton.InferenceServerClient.parse_response_body(body, header_length=length)
    assert result.as_numpy("predict").tolist() == [b"setosa", b"", b"virginica"]
    assert result.as_numpy("predict_proba").tolist() == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    assert result.as_numpy("codes").tolist() == [0, -1, 2]
    assert result.get_output("predict_proba")["data"] == [1.0, 0.0, 0.5, 0.5, 0.0, 1.0]
    assert result.get_output("codes")["parameters"] == {"binary_data_size": 24}


def test_join_with_nothing_binary_is_the_json_alone() -> None:
    header = _response([{"name": "predict", "shape": [1], "datatype": "INT64", "data": [1]}])
    body, length = binary_tensors.join(header, set())
    assert length == len(body)
    assert triton.InferenceServerClient.parse_response_body(body).as_numpy("predict").tolist() == [1]


NUMERIC = st.sampled_from(sorted(binary_tensors.DTYPES)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        hnp.arrays(binary_tensors.DTYPES[name], hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    )
)


@given(tensor=NUMERIC)
def test_any_numeric_tensor_goes_out_and_back_unchanged(tensor: tuple[str, np.ndarray]) -> None:
    datatype, values = tensor
    output = {"name": "t", "shape": list(values.shape), "datatype": datatype, "data": values.flatten().tolist()}
    body, length = binary_tensors.join(_response([output]), {"t"})
    read = triton.InferenceServerClient.parse_response_body(body, header_length=length).as_numpy("t")
    np.testing.assert_array_equal(read, values)
    decoded = binary_tensors.decode(memoryview(body)[length:], datatype, values.shape)
    np.testing.assert_array_equal(decoded.reshape(values.shape), values)


@given(body=st.binary(max_size=64), value=st.none() | st.text(max_size=30) | st.integers(-5, 80).map(str))
def test_split_only_ever_refuses_with_a_bad_request(body: bytes, value: str | None) -> None:
    try:
        header, tensors = binary_tensors.split(body, value)
    except BadRequest:
        return
    assert header + bytes(tensors) == body
