#!/usr/bin/env python3
"""wait-listening.py SPEC T0_NS: polls a milter socket every 2 ms until it accepts a connection (up to 60 s)
and prints the milliseconds since T0_NS (a `date +%s%N` taken just before the daemon was started).
SPEC is inet:PORT@HOST or unix:PATH. Exit 1 on timeout. Used by bench/phases.sh for start-up to listening."""
import socket
import sys
import time

spec, t0 = sys.argv[1], int(sys.argv[2])
if spec.startswith("inet:"):
    port, host = spec[5:].split("@")
    family, address = socket.AF_INET, (host, int(port))
else:
    family, address = socket.AF_UNIX, spec[5:]
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.connect(address)
        print(f"{(time.time_ns() - t0) / 1e6:.0f}")
        sys.exit(0)
    except OSError:
        time.sleep(0.002)
    finally:
        s.close()
sys.exit(1)
