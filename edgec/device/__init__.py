"""edgec.device: the host side of the device link (framing, serial transport,
QEMU launcher, protocol client, high-level run/profile sessions)."""

from edgec.device.client import DeviceClient, InvokeResult
from edgec.device.emulator import Emulator
from edgec.device.protocol import DeviceInfo
from edgec.device.session import open_device, profile_on_device, run_on_device
from edgec.device.transport import SerialTransport, open_transport

__all__ = [
    "DeviceClient",
    "DeviceInfo",
    "Emulator",
    "InvokeResult",
    "SerialTransport",
    "open_device",
    "open_transport",
    "profile_on_device",
    "run_on_device",
]
