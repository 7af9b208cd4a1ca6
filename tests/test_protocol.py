"""Framing (COBS, CRC) and the host client against a fake device.

The real firmware is exercised by tests/test_device_hil.py; these tests pin
the wire format and the host's retry/resync logic without QEMU.
"""

import struct
import time

import numpy as np
import pytest

from edgec.device.client import DeviceClient
from edgec.device.fake import STUB_INFO, FakeDevice, FaultyTransport, stub_model
from edgec.device.framing import (
    MAX_BODY,
    Frame,
    FrameDecoder,
    FrameError,
    cobs_decode,
    cobs_encode,
    crc16_ccitt,
    decode_frame,
)
from edgec.device.protocol import Command, pack_counts, pack_info, parse_counts, parse_info
from edgec.device.session import check_model_hash
from edgec.device.transport import SerialTransport, open_transport
from edgec.errors import DeviceError


def _crc16_bitwise_reference(data: bytes) -> int:
    """Independent CRC-16/CCITT-FALSE: shift register fed one bit at a time, MSB first."""
    reg = 0xFFFF
    for byte in data:
        for i in range(7, -1, -1):
            bit = (byte >> i) & 1
            top = (reg >> 15) & 1
            reg = (reg << 1) & 0xFFFF
            if top ^ bit:
                reg ^= 0x1021
    return reg


# -- CRC ------------------------------------------------------------------------


def test_crc_check_value():
    # The catalogued check value of CRC-16/CCITT-FALSE (aka CRC-16/IBM-3740).
    assert crc16_ccitt(b"123456789") == 0x29B1


def test_crc_empty_is_init():
    assert crc16_ccitt(b"") == 0xFFFF


@pytest.mark.parametrize("seed", range(5))
def test_crc_matches_bitwise_reference(seed):
    data = np.random.default_rng(seed).integers(0, 256, size=100 + seed * 37, dtype=np.uint8).tobytes()
    assert crc16_ccitt(data) == _crc16_bitwise_reference(data)


def test_crc_detects_single_bit_flip():
    data = bytearray(b"edgec frame body")
    good = crc16_ccitt(bytes(data))
    data[3] ^= 0x10
    assert crc16_ccitt(bytes(data)) != good


# -- COBS -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, encoded",
    [
        (b"", b"\x01"),
        (b"\x00", b"\x01\x01"),
        (b"\x00\x00", b"\x01\x01\x01"),
        (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
        (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
        (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    ],
)
def test_cobs_known_vectors(data, encoded):
    assert cobs_encode(data) == encoded
    assert cobs_decode(encoded) == data


def test_cobs_long_runs_without_zero():
    for n in (253, 254, 255, 256, 600):
        data = bytes((i % 255) + 1 for i in range(n))
        enc = cobs_encode(data)
        assert 0 not in enc
        assert cobs_decode(enc) == data


@pytest.mark.parametrize("seed", range(10))
def test_cobs_round_trip_random(seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 4, size=int(rng.integers(0, 1200)), dtype=np.uint8).tobytes()  # many zeros
    enc = cobs_encode(data)
    assert 0 not in enc
    assert cobs_decode(enc) == data


def test_cobs_rejects_malformed():
    with pytest.raises(FrameError):
        cobs_decode(b"\x05\x11\x22")  # block runs past the end
    with pytest.raises(FrameError):
        cobs_decode(b"\x03\x11\x00")  # zero inside


# -- frames -----------------------------------------------------------------------


def test_frame_layout_and_round_trip():
    frame = Frame(Command.WRITE_INPUT, 7, b"\x00\x01\x02\x00")
    payload = frame.payload()
    assert payload[:4] == bytes([0x03, 7, 4, 0])
    assert struct.unpack("<H", payload[-2:])[0] == crc16_ccitt(payload[:-2])
    wire = frame.encode()
    assert wire.endswith(b"\x00") and 0 not in wire[:-1]
    assert decode_frame(wire[:-1]) == frame


def test_frame_body_limit():
    Frame(1, 1, bytes(MAX_BODY)).encode()
    with pytest.raises(ValueError):
        Frame(1, 1, bytes(MAX_BODY + 1)).encode()


def test_decoder_flags_bad_crc_and_truncation_then_resyncs():
    good = Frame(0x82, 3, b"hello").encode()
    bad = bytearray(good)
    bad[4] ^= 0x01
    truncated = good[:3] + b"\x00"
    garbage = b"\xde\xad\xbe\xef\x00"
    dec = FrameDecoder()
    items = dec.feed(garbage + bytes(bad) + truncated + good)
    assert [type(i) for i in items] == [FrameError, FrameError, FrameError, Frame]
    assert items[-1] == Frame(0x82, 3, b"hello")


def test_decoder_handles_byte_by_byte_and_overlong():
    dec = FrameDecoder()
    out = []
    for b in Frame(0x81, 1, b"x" * 40).encode():
        out += dec.feed(bytes([b]))
    assert out == [Frame(0x81, 1, b"x" * 40)]
    items = dec.feed(b"\x01" * 2000 + b"\x00" + Frame(0x81, 2).encode())
    assert isinstance(items[0], FrameError) and items[1] == Frame(0x81, 2)


def test_info_and_counts_bodies_round_trip():
    assert parse_info(pack_info(STUB_INFO)) == STUB_INFO
    counts = list(range(1, 300))
    first = parse_counts(pack_counts(12345, counts, 0))
    assert first.total == 12345 and first.op_count == 299 and first.counts == tuple(range(1, 126))
    later = parse_counts(pack_counts(12345, counts, 125))
    assert later.first == 125 and later.counts[0] == 126


def test_frames_over_pyserial_loop_url():
    port = SerialTransport("loop://")
    try:
        frames = [Frame(Command.INFO, 1), Frame(Command.WRITE_INPUT, 2, bytes(range(256)) * 2)]
        for f in frames:
            port.write(f.encode())
        dec = FrameDecoder()
        got = []
        deadline = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < deadline:
            got += dec.feed(port.read(0.1))
        assert got == frames
    finally:
        port.close()


# -- client against the fake device ------------------------------------------------


def _input() -> bytes:
    return np.arange(768, dtype=np.int64).astype(np.int8).tobytes()


def test_client_full_exchange():
    dev = FakeDevice()
    client = DeviceClient(dev, timeout=0.2)
    assert client.hello() == 1
    info = client.info()
    assert info.model_hash == 0x5AB1E5ED and info.counter_unit == "instructions"
    assert info.input_shape == (1, 16, 16, 3)
    out, result = client.run(_input())
    assert out == stub_model(_input())
    assert result.per_op == (100, 200, 300) and result.total == 600
    assert client.resends == 0
    writes = [f for f in dev.received if isinstance(f, Frame) and f.code == Command.WRITE_INPUT]
    assert len(writes) == 2  # 768 bytes in chunks of 508


def test_client_fetches_counts_beyond_one_frame():
    info = type(STUB_INFO)(**{**STUB_INFO.__dict__, "op_count": 300})
    dev = FakeDevice(info=info, op_counts=list(range(300)))
    client = DeviceClient(dev, timeout=0.2)
    client.hello()
    result = client.invoke()
    assert result.per_op == tuple(range(300))


def test_client_retries_after_corrupted_request():
    dev = FakeDevice()
    link = FaultyTransport(dev, flip_write=1)  # write 0 = HELLO, write 1 = INFO
    client = DeviceClient(link, timeout=0.2)
    client.hello()
    assert client.info().model_hash == STUB_INFO.model_hash
    assert link.faults == 1 and client.resends == 1


def test_client_retries_after_corrupted_reply():
    dev = FakeDevice()
    link = FaultyTransport(dev, flip_read=1)
    client = DeviceClient(link, timeout=0.2)
    client.hello()
    assert client.info() == STUB_INFO
    assert link.faults == 1 and client.resends == 1


def test_client_recovers_from_truncated_frame_and_garbage():
    dev = FakeDevice()
    link = FaultyTransport(dev, truncate_write=2, garbage_before_write=(3, b"\x13\x37garbage\xff"))
    client = DeviceClient(link, timeout=0.2)
    client.hello()
    client.info()
    out, _ = client.run(_input())
    assert out == stub_model(_input())
    assert link.faults == 2


def test_silent_device_times_out_without_hanging():
    dev = FakeDevice()
    dev.silent = True
    client = DeviceClient(dev, timeout=0.1, retries=2)
    start = time.monotonic()
    with pytest.raises(DeviceError, match="no valid reply to HELLO after 3 tries"):
        client.hello()
    assert time.monotonic() - start < 2.0


def test_protocol_version_mismatch_is_clear():
    client = DeviceClient(FakeDevice(protocol_version=9), timeout=0.2)
    with pytest.raises(DeviceError, match="protocol v9.*re-flash"):
        client.hello()


def test_device_error_reply_is_reported():
    client = DeviceClient(FakeDevice(), timeout=0.2)
    client.hello()
    with pytest.raises(DeviceError, match="BAD_OFFSET"):
        client.request(Command.WRITE_INPUT, struct.pack("<I", 10_000) + b"\x01")
    with pytest.raises(DeviceError, match="UNKNOWN_COMMAND"):
        client.request(0x42)


def test_wrong_input_size_is_rejected_before_sending():
    client = DeviceClient(FakeDevice(), timeout=0.2)
    client.hello()
    with pytest.raises(DeviceError, match="input has 10 bytes"):
        client.write_input(b"\x00" * 10)


def test_hash_mismatch_message():
    client = DeviceClient(FakeDevice().with_hash(0xDEADBEEF), timeout=0.2)
    client.hello()
    with pytest.raises(DeviceError, match="another model.*re-flash"):
        check_model_hash(client.info(), 0x5AB1E5ED)
    check_model_hash(client.info(), 0xDEADBEEF)
    check_model_hash(client.info(), None)


def test_wrong_port_is_a_one_line_device_error():
    with pytest.raises(DeviceError) as info:
        open_transport("/dev/ttyEDGEC_DOES_NOT_EXIST")
    assert "cannot open serial port" in str(info.value) and "\n" not in str(info.value)


def test_serial_transport_read_times_out_on_loop():
    port = SerialTransport("loop://")
    try:
        start = time.monotonic()
        assert port.read(0.1) == b""
        assert time.monotonic() - start < 1.0
    finally:
        port.close()


def test_serial_exception_becomes_device_error():
    port = SerialTransport("loop://")
    port.close()
    with pytest.raises(DeviceError):
        port.write(b"x")


class _ShortOutputReplies(FakeDevice):
    """A device whose READ_OUTPUT replies are cut to two bytes (a garbled but CRC-valid reply)."""

    def _answer(self, item):
        reply = super()._answer(item)
        if isinstance(item, Frame) and item.code == Command.READ_OUTPUT:
            return Frame(reply.code, reply.seq, reply.body[:2])
        return reply


def test_short_output_reply_is_a_device_error():
    client = DeviceClient(_ShortOutputReplies(), timeout=0.2)
    client.hello()
    client.write_input(_input())
    client.invoke()
    with pytest.raises(DeviceError, match="shorter than its 4-byte offset"):
        client.read_output()
