#!/usr/bin/env python3
"""Bounded NTP client-mode load: keeps WINDOW requests in flight from SOCKETS
source ports for DURATION seconds against one server, then waits TIMEOUT for
stragglers. A reply counts when it is mode 4 with stratum 1-15 and its origin
timestamp equals the transmit timestamp we sent (a sequence number here).
Prints one JSON line: sent, received, replies_per_s, loss_pct, p50/p99 ms."""
import json, select, socket, struct, sys, time

server, port = sys.argv[1], int(sys.argv[2])
duration = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
window = int(sys.argv[4]) if len(sys.argv) > 4 else 64
nsock, timeout = 4, 1.0
socks = []
for _ in range(nsock):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    s.connect((server, port))
    socks.append(s)
head = bytes([0x23, 0, 6, 0xEC]) + bytes(36)
inflight, lat = {}, []
sent = received = 0
seq = 0
t0 = time.monotonic()
end = t0 + duration
last_gc = t0

def drain(now):
    global received
    for s in socks:
        while True:
            try:
                d = s.recv(512)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                break
            if len(d) < 48 or d[0] & 7 != 4 or not 1 <= d[1] <= 15:
                continue
            t = inflight.pop(struct.unpack_from("!Q", d, 24)[0], None)
            if t is not None:
                received += 1
                lat.append(now - t)

while True:
    now = time.monotonic()
    if now >= end:
        break
    while len(inflight) < window:
        seq += 1
        try:
            socks[seq % nsock].send(head + struct.pack("!Q", seq))
        except (BlockingIOError, ConnectionRefusedError):
            break
        inflight[seq] = now
        sent += 1
    select.select(socks, [], [], 0.002)
    now = time.monotonic()
    drain(now)
    if now - last_gc > 0.1:
        last_gc = now
        for k in [k for k, t in inflight.items() if now - t > timeout]:
            del inflight[k]
elapsed = time.monotonic() - t0
stop = time.monotonic() + timeout
while inflight and time.monotonic() < stop:
    select.select(socks, [], [], 0.01)
    drain(time.monotonic())
lat.sort()
pct = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None
print(json.dumps({"sent": sent, "received": received, "replies_per_s": round(received / elapsed, 1),
                  "loss_pct": round(100 * (1 - received / sent), 3) if sent else None,
                  "lat_p50_ms": pct(0.5), "lat_p99_ms": pct(0.99)}))
