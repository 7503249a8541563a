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
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from moto.server import ThreadedMotoServer

    from devstack import moto_fixes

    moto_fixes.install()

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
    })
    os.environ.pop("AWS_PROFILE", None)

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

    demo = None if args.no_demo else seed_demo()

    chalice_config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
    server = create_local_server(app_module.app, chalice_config, args.host, args.port)
    runner = Runner(app_module, session.client("sqs"), lambda q: q, args.schedule_seconds)
    runner.start()
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
    print("Press Ctrl-C to stop.\nready", flush=True)

    stop.wait()
    print("stopping...", flush=True)
    server.shutdown()
    runner.stop()
    moto.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
