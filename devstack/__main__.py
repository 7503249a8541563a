"""`python -m devstack` (via scripts/dev): the whole of CostPilot on a laptop, no AWS account.

Order matters: the environment (endpoint, credentials, stage, secrets) is set before the app is
imported, because the app reads its settings at first use and must never reach real AWS.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/dev", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="the API (default 8000)")
    p.add_argument("--aws-port", type=int, default=0, help="the AWS emulation (default: a free port)")
    p.add_argument("--schedule-seconds", type=float, default=60.0,
                   help="how often the runner fires the app's schedules (deployed: every 15 minutes)")
    p.add_argument("--no-demo", action="store_true", help="skip the demo user and data")
    p.add_argument("--stripe-port", type=int, default=12111,
                   help="the fake Stripe (default 12111, else a free port); see python -m devstack.stripe_local")
    p.add_argument("--outbox-port", type=int, default=8025,
                   help="the outbox page (emails sent) and local webhook receivers (default 8025, else a free port)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "httpx", "aws_encryption_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    from devstack import local_gateway, moto_fixes

    moto_fixes.install()
    local_gateway.install()  # unknown routes: the deployed gateway responses, not chalice's 403

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.aws_port, verbose=False)
    moto.start()
    aws_host, aws_port = moto.get_host_and_port()
    endpoint = f"http://{aws_host}:{aws_port}"
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "COSTPILOT_STAGE": "dev",
        "COSTPILOT_PUBLIC_URL": f"http://{args.host}:{args.port}",
        "COSTPILOT_SECRET_TOKEN_SIGNING_KEY": secrets.token_urlsafe(32),
        # the one opt-out of strict alert channels: local receivers are plain http on 127.0.0.1
        "COSTPILOT_ALLOW_LOCAL_CHANNELS": "true",
    })
    os.environ.pop("AWS_PROFILE", None)

    from devstack import stripe_local

    fake_stripe, stripe_env = stripe_local.start(f"http://{args.host}:{args.port}", "127.0.0.1", args.stripe_port)
    os.environ.update(stripe_env)

    from devstack.fakes import FakeAnthropic, FakeOpenAI, serve

    provider_fakes = {"openai": FakeOpenAI(seed=11, history_days=120),
                      "anthropic": FakeAnthropic(seed=12, history_days=120)}
    fake_providers = {name: serve(fake) for name, fake in provider_fakes.items()}
    for provider, served in fake_providers.items():
        os.environ[f"COSTPILOT_PROVIDER_URL_{provider.upper()}"] = served.base_url

    import boto3

    from devstack.provision import provision

    session = boto3.session.Session(region_name="us-east-1")
    created = provision(session, {"Stage": "dev"})

    sys.path.insert(0, str(ROOT))
    import app as app_module
    from chalice.cli.factory import CLIFactory
    from chalice.local import create_local_server

    from devstack.runner import Runner
    from devstack.seed import seed_demo

    demo = None if args.no_demo else seed_demo(
        {name: fake.admin_key for name, fake in provider_fakes.items()})

    chalice_config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
    server = create_local_server(app_module.app, chalice_config, args.host, args.port)
    runner = Runner(app_module, session.client("sqs"), lambda q: q, args.schedule_seconds)
    runner.start()
    from devstack import outbox

    outbox_server, outbox_url = outbox.serve(args.host, args.outbox_port)
    http_thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    http_thread.start()

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    print(f"\nCostPilot is running on http://{args.host}:{args.port}", flush=True)
    print(f"  AWS emulation (moto): {endpoint}  ({len(created)} resources from infra/resources.json)")
    print(f"  API description:      http://{args.host}:{args.port}/api/openapi.json")
    if demo:
        print(f"  Demo login:           {demo['email']} / {demo['password']}")
        print(f"  Demo ingest key:      {demo['ingest_key']}")
    print("  Fake providers:       " + ", ".join(f"{n} {s.base_url}" for n, s in fake_providers.items()))
    print(f"  Outbox (emails sent): {outbox_url}  (webhook receivers: {outbox_url}/hooks/<name>)")
    print(f"  Fake Stripe:          {fake_stripe.base_url}  (checkout pays there; replay events with "
          f"python -m devstack.stripe_local --url {fake_stripe.base_url} --help)")
    print("Press Ctrl-C to stop.\nready", flush=True)

    stop.wait()
    print("stopping...", flush=True)
    server.shutdown()
    outbox_server.shutdown()
    runner.stop()
    fake_stripe.stop()
    for served in fake_providers.values():
        served.stop()
    moto.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
