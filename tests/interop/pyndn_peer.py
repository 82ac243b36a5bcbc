#!/usr/bin/env python3
"""A python-ndn application used as a real peer in nfwd's interop tests.

It connects to the forwarder named by NDN_CLIENT_TRANSPORT (unix:// or tcp4://), exactly as any
python-ndn application would, using either the classic NDNApp (v0.2 signed commands) or NDNAppv2
(v0.3 signed commands, PIT tokens).

  pyndn_peer.py produce v1|v2 PREFIX TEXT     register PREFIX, answer every Interest under it
                                              with TEXT; prints READY once registered
  pyndn_peer.py consume v1|v2 NAME EXPECTED   fetch NAME (CanBePrefix, MustBeFresh), exit 0 iff
                                              the content equals EXPECTED
  pyndn_peer.py nack v1|v2 NAME REASON        fetch NAME, exit 0 iff it fails with InterestNack
                                              of reason REASON (e.g. 150 for NoRoute)
Exit code 2 means a different outcome; the reason is printed.
"""
import asyncio
import sys

from ndn import appv2
from ndn.app import NDNApp
from ndn.security import KeychainDigest
from ndn.types import InterestNack, InterestTimeout


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(2)


def produce_v1(prefix, text):
    app = NDNApp(keychain=KeychainDigest())

    def on_interest(name, _param, _app_param):
        app.put_data(name, content=text.encode(), freshness_period=1000)

    async def after_start():
        if not await app.register(prefix, on_interest):
            fail(f"registration of {prefix} refused")
        print("READY", flush=True)

    app.run_forever(after_start=after_start())


def produce_v2(prefix, text):
    app = appv2.NDNApp()

    def on_interest(name, _app_param, reply, _context):
        reply(app.make_data(name, content=text.encode(), signer=None, freshness_period=1000))

    async def after_start():
        app.attach_handler(prefix, on_interest)
        if not await app.register(prefix):
            fail(f"registration of {prefix} refused")
        print("READY", flush=True)

    app.run_forever(after_start=after_start())


def consume(version, name, expected=None, nack_reason=None):
    async def run(express):
        try:
            content = await express()
        except InterestNack as e:
            if nack_reason is not None and int(e.reason) == int(nack_reason):
                print(f"NACK {e.reason}", flush=True)
                return 0
            fail(f"InterestNack {e.reason}")
        except InterestTimeout:
            fail("InterestTimeout")
        if nack_reason is not None:
            fail(f"expected a Nack, got content {bytes(content)!r}")
        if bytes(content).decode() != expected:
            fail(f"content {bytes(content)!r} != {expected!r}")
        print("OK", flush=True)
        return 0

    if version == "v1":
        app = NDNApp(keychain=KeychainDigest())

        async def express():
            _, _, content = await app.express_interest(
                name, must_be_fresh=True, can_be_prefix=True, lifetime=2000)
            return content
    else:
        app = appv2.NDNApp()

        async def express():
            _, content, _ = await app.express(
                name, validator=appv2.pass_all, must_be_fresh=True, can_be_prefix=True,
                lifetime=2000)
            return content

    async def main():
        code = await run(express)
        app.shutdown()
        sys.exit(code)

    app.run_forever(after_start=main())


def main(argv):
    if len(argv) < 4:
        print(__doc__)
        sys.exit(64)
    mode, version, name = argv[1], argv[2], argv[3]
    if version not in ("v1", "v2"):
        fail(f"unknown app version {version}")
    if mode == "produce":
        (produce_v1 if version == "v1" else produce_v2)(name, argv[4])
    elif mode == "consume":
        consume(version, name, expected=argv[4])
    elif mode == "nack":
        consume(version, name, nack_reason=argv[4])
    else:
        fail(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
