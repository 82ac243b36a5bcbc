#!/usr/bin/env python3
"""The HTTP clients of scripts/bench-provision.sh (issue 12's baseline).

Usage: bench-http-fetch.py URL N OUTDIR SHA256

N clients, one thread each, all started and waiting before the clock starts (as a fleet's
agents already running, like the SF hosts asked by `nfwd sf provision`), GET URL at once;
each writes the body to its own file OUTDIR/<k>.bin while hashing it and checks the SHA-256
(as a gateway verifying its download). Prints "SECONDS OK BYTES": the time from the start
until the last client finished, how many got the right bytes, and the body bytes received.
"""
import hashlib
import http.client
import os
import sys
import threading
import time
import urllib.parse


def main():
    url, n, outdir, sha = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    u = urllib.parse.urlsplit(url)
    go = threading.Event()
    ok = [False] * n
    got = [0] * n
    errors = []

    def client(k):
        go.wait()
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            conn.request("GET", u.path)
            resp = conn.getresponse()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            h = hashlib.sha256()
            with open(os.path.join(outdir, f"{k}.bin"), "wb") as f:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
                    h.update(chunk)
                    got[k] += len(chunk)
            conn.close()
            ok[k] = h.hexdigest() == sha
            if not ok[k]:
                errors.append(f"client {k}: SHA-256 mismatch")
        except Exception as e:  # reported, counted as not ok
            errors.append(f"client {k}: {e}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # every thread waiting
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    for e in errors[:5]:
        print(e, file=sys.stderr)
    print(f"{elapsed:.3f} {sum(ok)} {sum(got)}")


if __name__ == "__main__":
    main()
