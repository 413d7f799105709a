"""Trigger ports for a lab session: parallel port, serial (USB-TTL boxes), LSL outlet, or none.

:func:`open_port` opens the protocol's backend before the first trial, so a port that is
missing or misnamed ends the start with one line, never a crash mid-session. Every port has
``send(code, time_s)`` (called on the flip that shows an event) and ``tick(time_s)``
(called every frame: a parallel port returns its lines to 0 after ``pulse_s``).
"""
from __future__ import annotations

from ..errors import SessionError
from ..triggers import NullPort, VirtualPort


class ParallelPort:
    """Sets the data lines of a parallel port to the code, and back to 0 after ``pulse_s``."""

    backend = "parallel"

    def __init__(self, address, pulse_s):
        try:
            from psychopy import parallel

            self._port = parallel.ParallelPort(address=int(address, 0) if address else 0x0378)
            self._port.setData(0)
        except Exception as exc:  # the driver raises many kinds; all mean "no such port"
            raise SessionError(f"triggers: cannot open the parallel port at '{address or '0x0378'}' ({exc}); "
                               "set triggers.address to the port's address, e.g. 0x0378, or backend: none") from None
        self.pulse_s, self._high_since = pulse_s, None

    def send(self, code, time_s):
        self._port.setData(int(code))
        self._high_since = time_s

    def tick(self, time_s):
        if self._high_since is not None and time_s - self._high_since >= self.pulse_s:
            self._port.setData(0)
            self._high_since = None

    def close(self):
        self._port.setData(0)


class SerialPort:
    """Writes each code as one byte to a serial device (USB-TTL trigger boxes pulse by themselves)."""

    backend = "serial"

    def __init__(self, address, baudrate):
        if not address:
            raise SessionError("triggers: backend serial needs triggers.address, e.g. /dev/ttyUSB0 or COM3")
        try:
            import serial
        except ImportError:
            raise SessionError("triggers: backend serial needs pyserial (pip install pyserial)") from None
        try:
            self._port = serial.Serial(address, baudrate=baudrate, timeout=0, write_timeout=0)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise SessionError(f"triggers: cannot open serial port '{address}' ({exc}); "
                               "check triggers.address or use backend: none") from None

    def send(self, code, time_s):
        self._port.write(bytes([int(code)]))

    def tick(self, time_s):
        pass

    def close(self):
        self._port.close()


class LslPort:
    """Pushes each code as a one-channel integer marker to a Lab Streaming Layer outlet."""

    backend = "lsl"

    def __init__(self, name):
        try:
            import pylsl
        except ImportError:
            raise SessionError("triggers: backend lsl needs pylsl (pip install pylsl)") from None
        info = pylsl.StreamInfo(name or "PainEmpathyMarkers", "Markers", 1, 0, pylsl.cf_int32, "pain-empathy-toolkit")
        self._outlet = pylsl.StreamOutlet(info)

    def send(self, code, time_s):
        self._outlet.push_sample([int(code)])

    def tick(self, time_s):
        pass

    def close(self):
        pass


def open_port(triggers):
    """The port the protocol's ``triggers`` section names, opened and ready."""
    backend = triggers.backend
    if backend == "none":
        return NullPort()
    if backend == "virtual":
        return VirtualPort()
    if backend == "parallel":
        return ParallelPort(triggers.address, triggers.pulse_s)
    if backend == "serial":
        return SerialPort(triggers.address, triggers.baudrate)
    if backend == "lsl":
        return LslPort(triggers.address)
    raise SessionError(f"triggers.backend must be none, virtual, parallel, serial or lsl (got {backend!r})")
