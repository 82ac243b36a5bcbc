#!/usr/bin/env python3
"""Writes the hand-made seeds of the `forwarder_session` fuzz target into
fuzz/corpus/forwarder_session/ (run from anywhere; it overwrites only the files it names).

The input is a program: a sequence of operations, each an opcode byte (taken modulo 13) and its
fields, read by `Session::step` in fuzz_targets/forwarder_session.rs; reading past the end yields
zeros. Faces are chosen by a byte taken modulo the number of open faces, in id order; at the
start they are ROOT, GROUP, USER, ANON, UDP, TCP, CHAN (a restricted channel face of /chan),
with routes / -> UDP, /net -> TCP, /localhost/nfwd/sf -> ROOT, /app -> USER, /chan/f -> CHAN.
Faces added later come after them; closing one shifts the ones after it.
"""

import os

ROOT, GROUP, USER, ANON, UDP, TCP, CHAN = range(7)

# Name bases and words, as in `Session::name` and `Session::component`.
APP, NET, CHANB, SF, LOCALHOST, CHAN_F, X, SLASH = range(8)
(W_LOCALHOST, W_NFD, W_NFWD, W_SF, W_APP, W_NET, W_CHAN, W_A, W_B, W_F, W_SF_EXEC,
 W_STATUS, W_KEY, W_OP) = range(14)

CMDS = ["rib/register", "rib/unregister", "fib/add-nexthop", "fib/remove-nexthop",
        "faces/create", "faces/update", "faces/destroy", "strategy-choice/set",
        "strategy-choice/unset", "cs/config", "cs/erase", "channels/open", "channels/close",
        "rib/announce"]
# Signatures of commands (service Interests: 0 is unsigned, 2 is digest).
DIGEST, DIGEST_BAD, TRUSTED, TRUSTED_BAD, FORGED, STRANGER = 0, 3, 4, 5, 6, 7
# Timestamps.
FRESH, REPLAY, OLD, FUTURE = 0, 1, 2, 3
# URIs of commands.
URI_A_SOCK, URI_S0_SOCK, URI_UDP, URI_TCP, URI_RELATIVE, URI_BOGUS = range(6)
BEST_ROUTE, MULTICAST, LOAD_BALANCE, BOGUS_STRATEGY = range(4)
SELF_LEARNING = 8


def name(base, *parts):
    """A name: a base (None: the empty name) and components (word indexes or encoded bytes)."""
    out = [200 if base is None else base, len(parts)]
    for p in parts:
        out += [p] if isinstance(p, int) else list(p)
    return out


def seq(n):
    return [16, n >> 8, n & 255]


def fid(i, faces=7):
    """The byte that makes a command's FaceId face number i (0 and 1 mean 'self')."""
    s = i
    while s < 2:
        s += faces
    return s


def command(face, cmd, nm=None, face_id=None, uri=None, origin=None, cost=None, capacity=None,
            count=None, flags=None, strategy=None, expiration=None, v02=False, sig=DIGEST,
            ts=FRESH):
    fields, body = 0, []
    if nm is not None:
        fields |= 1
        body += nm
    if face_id is not None:
        fields |= 2
        body.append(face_id)
    if uri is not None:
        fields |= 4
        body.append(uri)
    if origin is not None:
        fields |= 8
        body.append(origin)
    if cost is not None:
        fields |= 16
        body.append(cost)
    if capacity is not None:
        fields |= 32
        body.append(capacity)
    if count is not None:
        fields |= 64
        body.append(count)
    if flags is not None:
        fields |= 128
        body += list(flags)
    if strategy is not None:
        fields |= 256
        body.append(strategy)
    if expiration is not None:
        fields |= 512
        body += [expiration >> 8, expiration & 255]
    if v02:
        fields |= 0x8000
    return [6, face, CMDS.index(cmd), fields >> 8, fields & 255] + body + [sig, ts]


def interest(face, nm, nonce=5, lifetime=40, cbp=False, mbf=False, hints=None, chain=None,
             hop=None, token=None):
    flags = (1 if cbp else 0) | (2 if mbf else 0)
    tail = []
    if hints:
        flags |= 4
        tail += [len(hints) - 1] + sum(hints, [])
    if chain:
        flags |= 8
        tail += [len(chain) - 1] + sum(chain, [])
    if hop is not None:
        flags |= 16
        tail.append(hop)
    if token is not None:
        flags |= 32
        tail += [len(token)] + list(token)
    assert nonce < 128
    return [1, face] + nm + [flags, nonce, lifetime] + tail


def data(face, nm, length=4, freshness=2, token=None):
    flags = freshness << 4
    tail = []
    if token is not None:
        flags |= 2
        tail += [len(token)] + list(token)
    return [3, face] + nm + [flags, length] + tail


def respond(face, idx=0, nack=None, size=4, pa=None):
    """Data (nack=None) or a Nack (4 NoRoute, 5 Congestion, 6 Duplicate, 7 None) for the
    idx-th Interest recently sent to face, PIT token echoed. pa=(k, seconds): the Data carries
    a prefix announcement of the first k components of the name, expiring after seconds."""
    if nack is None:
        if pa is None:
            return [4, face, idx, 0, size]
        return [4, face, idx, 0x20, size, pa[0], pa[1]]
    return [4, face, idx, nack]


def service(face, svc, sig=0, ts=FRESH, parts=()):
    return [7, face, svc, len(parts)] + list(parts) + [sig, ts, 1, 2, 3, 4]


def dataset(face, i):
    return [8, face, i]


def add_face(kind, channel=0):
    return [9, kind] + ([channel] if kind == 6 else [])


def close_face(face):
    return [10, face]


def advance(ms):
    return [11, 200, ms >> 8, ms & 255]


def report(create, index=0, ok=True):
    return [12, (index << 1) | (0 if create else 1), 0 if ok else 1]


SEEDS = {
    # A local upstream Nacks a /localhost Interest whose FIB entry also has a non-local next
    # hop: the retry must not go there (it did, before the Nack path applied scope rules).
    "nack_retry_scope": (
        command(ROOT, "rib/register", name(LOCALHOST, W_A), face_id=fid(UDP))
        + command(ROOT, "rib/register", name(LOCALHOST, W_A), face_id=fid(GROUP))
        + interest(USER, name(LOCALHOST, W_A))
        + respond(GROUP, nack=4)
    ),
    # A consumer and the producer of /app: Data back, then a cache hit, then expiry.
    "consumer_producer": (
        interest(ANON, name(APP, seq(1)), token=b"tok1")
        + respond(USER, size=20)
        + interest(ANON, name(APP, seq(1)), nonce=6)
        + interest(UDP, name(APP, seq(2)), nonce=7, cbp=True)
        + respond(USER, size=200)
        + advance(5000)
        + interest(TCP, name(NET, seq(3)))
        + advance(5000)
    ),
    # Unprivileged faces try what they may not, and do what they may.
    "unprivileged_management": (
        command(USER, "rib/register", name(X), face_id=fid(UDP))
        + command(USER, "faces/destroy", face_id=fid(ROOT))
        + command(USER, "strategy-choice/set", name(APP), strategy=MULTICAST)
        + command(ANON, "cs/config", capacity=3)
        + command(ANON, "rib/register", name(LOCALHOST, W_A))
        + command(CHAN, "rib/register", name(X))
        + command(CHAN, "rib/register", name(CHANB, W_B))
        + command(CHAN, "rib/register", name(CHANB, W_B), face_id=fid(ANON))
        + command(USER, "faces/update", flags=(1, 1))
        + command(UDP, "rib/register", name(X))
        + command(GROUP, "strategy-choice/set", name(APP), strategy=LOAD_BALANCE, v02=True)
        + dataset(CHAN, 0)
        + dataset(USER, 4)
    ),
    # Commands signed by the trusted key, a replay, a forgery, a stranger's key.
    "signed_commands": (
        command(ANON, "cs/config", capacity=5, sig=TRUSTED)
        + command(ANON, "cs/config", capacity=7, sig=TRUSTED, ts=REPLAY)
        + command(ANON, "cs/config", capacity=9, sig=FORGED)
        + command(ANON, "cs/config", capacity=9, sig=TRUSTED_BAD, v02=True)
        + command(USER, "strategy-choice/set", name(NET), strategy=MULTICAST, sig=STRANGER)
        + command(USER, "strategy-choice/set", name(NET), strategy=MULTICAST, sig=TRUSTED)
        + command(USER, "faces/destroy", face_id=fid(TCP), sig=TRUSTED)
        + command(ROOT, "faces/destroy", face_id=fid(TCP), sig=DIGEST_BAD)
        + command(ROOT, "rib/register", name(X), sig=DIGEST, ts=OLD)
        + command(ROOT, "rib/register", name(X), sig=DIGEST, ts=FUTURE)
        + command(ROOT, "rib/register", name(X), face_id=fid(TCP), sig=STRANGER, v02=True)
    ),
    # A second channel: opened, reported, a face on it registers; its owner goes, and the
    # core closes the channel and its faces.
    "channel_lifecycle": (
        command(GROUP, "channels/open", name(X), uri=URI_A_SOCK)
        + report(create=False)
        + add_face(6, 1)
        + command(7, "rib/register", name(X, W_F))
        + interest(ANON, name(X, W_F))
        + close_face(GROUP)
        + advance(10)
        + command(ROOT, "channels/close", uri=URI_S0_SOCK)
        + interest(USER, name(CHAN_F))
    ),
    # faces/create answered by the driver, a route to the new face, then faces/destroy.
    "faces_create": (
        command(ROOT, "faces/create", uri=URI_UDP)
        + command(ROOT, "faces/create", uri=URI_BOGUS)
        + report(create=True)
        + report(create=True, ok=False)
        + command(ROOT, "rib/register", name(X), face_id=fid(7, 8), cost=1)
        + interest(USER, name(X, W_A))
        + command(ROOT, "faces/destroy", face_id=fid(7, 8))
        + interest(USER, name(X, W_B))
    ),
    # A non-local face floods distinct names towards an upstream that never answers: its
    # quota fills, then the entries expire.
    "flood_quota": (
        sum((interest(UDP, name(NET, seq(i)), nonce=i % 100, lifetime=50) for i in range(20)), [])
        + interest(USER, name(NET, seq(500)))
        + advance(6000)
        + sum((interest(UDP, name(NET, seq(100 + i)), nonce=i, lifetime=50) for i in range(5)), [])
    ),
    # Big Data over the UDP face (MTU 500): fragmented both ways.
    "fragments": (
        interest(UDP, name(APP, seq(7)), lifetime=60)
        + respond(USER, size=250)
        + data(UDP, name(NET, seq(7)), length=200)
        + interest(USER, name(SLASH, W_B))
        + respond(UDP, size=220)
    ),
    # Self-learning for /: without the static default route a consumer's Interest is
    # broadcast to the non-local faces; UDP answers with a prefix announcement (a route is
    # learned), the next Interest follows it, a Nack NoRoute withdraws it; the next is
    # broadcast again and TCP's announcement makes a route that expires with it; a /localhost
    # Interest is broadcast nowhere. (respond's idx counts the Interests sent to that face.)
    "self_learning": (
        command(ROOT, "strategy-choice/set", name(SLASH), strategy=SELF_LEARNING)
        + command(ROOT, "rib/unregister", name(SLASH), face_id=fid(UDP), origin=255)
        + interest(USER, name(X, W_A))
        + respond(UDP, idx=0, pa=(1, 60))
        + interest(USER, name(X, W_B), nonce=6)
        + respond(UDP, idx=1, nack=4)
        + interest(ANON, name(X, W_F), nonce=7)
        + respond(TCP, idx=1, pa=(2, 30))
        + advance(31000)
        + interest(ROOT, name(LOCALHOST, W_A), nonce=8)
    ),
    # /localhost/nfwd services: allowed for root and the group (not sf-exec), refused for
    # others unless the trusted key signs (sf only).
    "services": (
        service(GROUP, 0, sig=2)
        + service(GROUP, 1, sig=2)
        + service(USER, 0)
        + service(ANON, 0, sig=4)
        + service(ANON, 1, sig=4)
        + service(ROOT, 3)
        + service(CHAN, 0)
        + service(UDP, 0)
        + respond(ROOT, nack=4)
    ),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "corpus", "forwarder_session")
    os.makedirs(out, exist_ok=True)
    for seed, program in SEEDS.items():
        with open(os.path.join(out, seed), "wb") as f:
            f.write(bytes(program))


if __name__ == "__main__":
    main()
