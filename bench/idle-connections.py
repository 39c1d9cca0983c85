#!/usr/bin/python3
"""Hold COUNT idle milter connections open, each in the state Postfix keeps for an idle SMTP session.

Usage: idle-connections.py SPEC COUNT    (SPEC: inet:PORT@HOST or unix:PATH)

Every connection negotiates like Postfix (OPTNEG: version 6, all actions, all protocol flags), then sends
the connect macros, CONNECT and HELO, reading each reply unless the filter negotiated it away (NO*/NR_*).
At most PARALLEL connections handshake at once. When all are done (or at a SIGTERM before that), one JSON
line goes to stdout: {"opened", "optneg", "connect", "helo", "complete", "seconds", "errors"}. The
connections then stay idle until SIGTERM; on it each one is checked (still open, not closed by the
filter), gets a QUIT and is closed, and a second JSON line {"alive"} follows. Loopback only; every wait
is bounded by TIMEOUT seconds.
"""
import asyncio
import collections
import json
import signal
import struct
import sys
import time

PARALLEL = 50
TIMEOUT = 30.0
ALL_ACTIONS = 0x1FF
ALL_FLAGS = 0x1FFFFF
NOCONNECT, NOHELO, NR_CONN, NR_HELO = 0x01, 0x02, 0x1000, 0x2000


def frame(command, data=b""):
    """One milter packet: uint32 length (command byte + data), command, data."""
    return struct.pack(">I", len(data) + 1) + command + data


async def read_reply(reader):
    """The next reply packet (command byte, data), skipping PROGRESS keep-alives."""
    while True:
        (length,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), TIMEOUT))
        if not 1 <= length <= 1 << 20:
            raise ValueError(f"bad reply length {length}")
        packet = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
        if packet[:1] != b"p":
            return packet[:1], packet[1:]


async def open_stream(spec):
    if spec.startswith("unix:"):
        return await asyncio.wait_for(asyncio.open_unix_connection(spec[5:]), TIMEOUT)
    port, host = spec[5:].split("@")
    return await asyncio.wait_for(asyncio.open_connection(host, int(port)), TIMEOUT)


async def stage(reader, writer, no_flag, nr_flag, flags, packets):
    """Send one SMTP stage (macros + command); True when the filter answered it (or owes no answer)."""
    if flags & no_flag:
        return True
    writer.write(b"".join(packets))
    await writer.drain()
    if flags & nr_flag:
        return True
    code, _ = await read_reply(reader)
    if code not in (b"c", b"a"):  # continue, or accept (this session needs no more filtering)
        raise ValueError(f"reply {code!r}")
    return True


async def handshake(i, spec, gate, counts, errors, held):
    async with gate:
        try:
            reader, writer = await open_stream(spec)
        except (OSError, asyncio.TimeoutError) as e:
            errors[f"connect: {type(e).__name__}"] += 1
            return
        counts["opened"] += 1
        held.append((reader, writer))
        step = "optneg"
        try:
            writer.write(frame(b"O", struct.pack(">III", 6, ALL_ACTIONS, ALL_FLAGS)))
            await writer.drain()
            code, data = await read_reply(reader)
            if code != b"O" or len(data) < 12:
                raise ValueError(f"reply {code!r}")
            flags = struct.unpack(">III", data[:12])[2]
            counts["optneg"] += 1
            # Postfix's default connect macros, then CONNECT: hostname, family '4', port, address
            addr = f"192.0.2.{i % 250 + 1}".encode()
            macros = b"C" + b"\0".join([b"j", b"mx.lab.example", b"{daemon_name}", b"smtpd",
                                        b"{daemon_addr}", b"127.0.0.1", b"v", b"Postfix 3.7", b"_",
                                        b"client.example [" + addr + b"]"]) + b"\0"
            step = "connect"
            await stage(reader, writer, NOCONNECT, NR_CONN, flags,
                        [frame(b"D", macros),
                         frame(b"C", b"client.example\0" + b"4" + struct.pack(">H", 40000 + i % 20000) + addr + b"\0")])
            counts["connect"] += 1
            step = "helo"
            await stage(reader, writer, NOHELO, NR_HELO, flags, [frame(b"H", b"client.example\0")])
            counts["helo"] += 1
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            errors[f"{step}: {type(e).__name__} {e}"[:80]] += 1


async def still_open(reader):
    """True when the filter has not closed the connection (a read finds nothing to read yet)."""
    try:
        return await asyncio.wait_for(reader.read(1), 0.05) != b""
    except asyncio.TimeoutError:
        return True
    except OSError:
        return False


async def main(spec, count):
    counts = collections.Counter(opened=0, optneg=0, connect=0, helo=0)
    errors = collections.Counter()
    held = []
    gate = asyncio.Semaphore(PARALLEL)
    release = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, release.set)
    started = time.monotonic()
    handshakes = asyncio.gather(*(handshake(i, spec, gate, counts, errors, held) for i in range(count)))
    released = asyncio.ensure_future(release.wait())
    # a SIGTERM before every handshake is done cuts them short: the summary then says what was reached
    await asyncio.wait([handshakes, released], return_when=asyncio.FIRST_COMPLETED)
    complete = handshakes.done()
    if not complete:
        handshakes.cancel()
        try:
            await handshakes
        except asyncio.CancelledError:
            pass
    print(json.dumps({**counts, "complete": complete, "seconds": round(time.monotonic() - started, 1),
                      "errors": errors}), flush=True)

    await released
    alive = sum(await asyncio.gather(*(still_open(reader) for reader, _ in held)))
    for _, writer in held:
        try:
            writer.write(frame(b"Q"))
            writer.close()
        except OSError:
            pass
    print(json.dumps({"alive": alive}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
