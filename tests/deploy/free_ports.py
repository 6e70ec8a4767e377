#!/usr/bin/python3
"""Prints the first of four consecutive free ports, and the next two.

Below Linux's ephemeral range (32768-60999), so that no other test's outgoing
connection takes one between now and a local stack binding it: coordinator,
PostgreSQL, coordinator metrics, and the worker's metrics (up.sh gives
worker i the metrics port + i)."""
import random
import socket

while True:
    base = random.randrange(20000, 32000)
    socks = []
    try:
        for p in range(base, base + 4):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base, base + 1, base + 2)
    break
