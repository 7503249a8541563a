"""`python -m devstack` (via scripts/dev): the whole of CostPilot on a laptop, no AWS account.

What the stack holds (tables, keys, queued messages, sent mail, the fakes' Stripe objects) is kept
in a git-ignored folder (``.devstack/``) and restored on the next start; ``--fresh`` starts empty.

Order matters: the environment (endpoint, credentials, stage, secrets) is set before the app is
imported, because the app reads its settings at first use and must never reach real AWS.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/dev", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="the API (default 8000)")
    p.add_argument("--aws-port", type=int, default=0, help="the AWS emulation (default: a free port)")
    p.add_argument("--schedule-seconds", type=float, default=60.0,
                   help="how often the runner fires the app's schedules (deployed: every 15 minutes)")
    p.add_argument("--no-demo", action="store_true", help="skip the demo user and data (on a fresh start)")
    p.add_argument("--state-dir", type=Path, default=ROOT / ".devstack",
                   help="where the stack's data is kept between starts (default: .devstack/ in the checkout)")
    p.add_argument("--fresh", action="store_true",
                   help="start from scratch: ignore the saved data (it is replaced at the first save)")
    p.add_argument("--provider-history-days", type=int, default=120,
                   help="how far back the fake providers' ledgers go (on a fresh start; default 120)")
    p.add_argument("--save-seconds", type=float, default=5.0,
                   help="after a change, save the data within this many seconds (and always on Ctrl-C)")
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

    from devstack import local_gateway, moto_fixes, state
    from devstack.stop_signals import StopSignals

    try:
        held = state.hold(args.state_dir)  # noqa: F841 - the lock lasts as long as this reference
    except state.StateError as e:
        print(e, file=sys.stderr)
        return 2
    try:
        saved = None if args.fresh else state.load(args.state_dir)
    except state.StateError as e:
        print(f"cannot restore the local data: {e}\nstart with --fresh to discard it", file=sys.stderr)
        return 2
    meta = saved["stack"] if saved else {
        "token_signing_key": secrets.token_urlsafe(32),
        "stripe_webhook_secret": None,
        "ledger_from": (datetime.now(UTC).date() - timedelta(days=args.provider_history_days)).isoformat(),
        "demo": None,
    }

    moto_fixes.install()
    local_gateway.install()  # unknown routes: the deployed gateway responses, not chalice's 403

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.aws_port, verbose=False)
    moto.start()
    keeper = state.Keeper(args.state_dir, interval=args.save_seconds)
    moto._server.app = keeper.track(moto._server.app)  # every write is counted (saved within seconds)
    aws_host, aws_port = moto.get_host_and_port()
    endpoint = f"http://{aws_host}:{aws_port}"
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "COSTPILOT_STAGE": "dev",
        "COSTPILOT_PUBLIC_URL": f"http://{args.host}:{args.port}",
        "COSTPILOT_SECRET_TOKEN_SIGNING_KEY": meta["token_signing_key"],
        # the one opt-out of strict alert channels: local receivers are plain http on 127.0.0.1
        "COSTPILOT_ALLOW_LOCAL_CHANNELS": "true",
    })
    os.environ.pop("AWS_PROFILE", None)

    from devstack import stripe_local

    stripe_fake = stripe_local.make_fake(f"http://{args.host}:{args.port}", meta["stripe_webhook_secret"])
    meta["stripe_webhook_secret"] = stripe_fake.webhook_secret
    if saved:
        try:
            state.restore_stripe(stripe_fake, saved.get("stripe", {}))
        except (KeyError, TypeError, ValueError) as e:  # the fake's shapes changed since the save
            logging.getLogger("costpilot.devstack").warning("the fake Stripe starts empty: its saved state "
                                                            "no longer fits (%s: %s)", type(e).__name__, e)
            stripe_fake = stripe_local.make_fake(f"http://{args.host}:{args.port}", meta["stripe_webhook_secret"])
    fake_stripe, stripe_env = stripe_local.start(f"http://{args.host}:{args.port}", "127.0.0.1", args.stripe_port,
                                                 fake=stripe_fake)
    os.environ.update(stripe_env)

    from devstack.fakes import FakeAnthropic, FakeBigQuery, FakeOpenAI, serve

    # The fakes' ledgers are seeded day by day from their first day: starting from the same day on
    # every restart, each day keeps the figures the connections already synced. The fake BigQuery's
    # service-account key is kept too, so the sealed key file of the demo's connection still signs.
    history_days = (datetime.now(UTC).date() - date.fromisoformat(meta["ledger_from"])).days
    bigquery = FakeBigQuery(seed=13, history_days=history_days, private_key_pem=meta.get("gcp_private_key_pem"))
    meta["gcp_private_key_pem"] = bigquery.private_key_pem()
    # Bills fill in with a lag and grow with steady traffic nothing pushes (seed.py bills the demo's calls).
    provider_fakes = {"openai": FakeOpenAI(seed=11, history_days=history_days, billing_lag=timedelta(minutes=30),
                                           background_per_second=Decimal("0.0001")),
                      "anthropic": FakeAnthropic(seed=12, history_days=history_days, billing_lag=timedelta(minutes=5),
                                                 background_per_second=Decimal("0.00005")),
                      "gcp": bigquery}
    fake_providers = {name: serve(fake) for name, fake in provider_fakes.items()}
    for provider, served in fake_providers.items():
        os.environ[f"COSTPILOT_PROVIDER_URL_{provider.upper()}"] = served.base_url
    from devstack.fakes.twilio_messages import FakeTwilioMessages

    sms_fake = FakeTwilioMessages(auto_callbacks=2.0)  # CostPilot's own Twilio: alert SMS and codes
    if saved:
        sms_fake.restore(saved.get("sms", []))
    sms_served = serve(sms_fake)
    os.environ.update(sms_fake.environment(sms_served.base_url))

    import boto3

    from devstack.provision import provision

    session = boto3.session.Session(region_name="us-east-1")
    created = provision(session, {"Stage": "dev"})
    restored = state.restore_aws(saved) if saved else None

    sys.path.insert(0, str(ROOT))
    from chalice.cli.factory import CLIFactory
    from chalice.local import create_local_server

    import app as app_module
    from devstack.runner import Runner
    from devstack.seed import seed_demo

    if saved is None and not args.no_demo:
        meta["demo"] = seed_demo(
            {name: fake.admin_key for name, fake in provider_fakes.items() if name != "gcp"},
            provider_credentials={"gcp": bigquery.credentials()},
            bill_to={name: fake for name, fake in provider_fakes.items() if name != "gcp"})
        meta["billed_calls"] = {name: state.dump_billed_calls(fake.calls)
                                for name, fake in provider_fakes.items() if name != "gcp"}
    elif saved is not None:  # the fakes bill the demo's calls again, so restored days keep their figures
        for name, calls in meta.get("billed_calls", {}).items():
            provider_fakes[name].bill_calls(state.load_billed_calls(calls))
    demo = meta["demo"]

    chalice_config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="dev")
    server = create_local_server(app_module.app, chalice_config, args.host, args.port)
    runner = Runner(app_module, session.client("sqs"), lambda q: q, args.schedule_seconds)
    runner.start()
    from devstack import outbox

    outbox_server, outbox_url = outbox.serve(args.host, args.outbox_port, sms=sms_fake.outbox)
    hooks = outbox_server.app.hooks
    if saved:
        state.restore_hooks(hooks, saved.get("hooks", []))
    keeper.parts.update({
        "stack": lambda: dict(meta),
        "stripe": lambda: state.capture_stripe(stripe_fake),
        "hooks": lambda: state.capture_hooks(hooks),
        "sms": sms_fake.outbox,
    })
    keeper.save()
    keeper.start()
    http_thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
    http_thread.start()

    stop = StopSignals()  # Ctrl-C from now on stops the stack (and saves its data)

    print(f"\nCostPilot is running on http://{args.host}:{args.port}", flush=True)
    print(f"  AWS emulation (moto): {endpoint}  ({len(created)} resources from infra/resources.json)")
    if restored:
        print(f"  Data restored from:   {args.state_dir}  ({restored['items']} items, {restored['keys']} KMS keys, "
              f"{restored['messages']} queued messages, {restored['emails']} emails; --fresh starts empty)")
    else:
        print(f"  Data kept in:         {args.state_dir}  (restored on the next start; --fresh starts empty)")
    print(f"  API description:      http://{args.host}:{args.port}/api/openapi.json")
    if demo:
        print(f"  Demo login:           {demo['email']} / {demo['password']}")
        print(f"  Demo ingest key:      {demo['ingest_key']}")
    print("  Fake providers:       " + ", ".join(f"{n} {s.base_url}" for n, s in fake_providers.items()))
    print(f"  Outbox (emails sent): {outbox_url}  (webhook receivers: {outbox_url}/hooks/<name>)")
    print(f"  Fake Twilio (SMS):    {sms_served.base_url}  (SMS are on the outbox page; numbers ending 0000 "
          "come back undelivered)")
    print(f"  Fake Stripe:          {fake_stripe.base_url}  (checkout pays there; replay events with "
          f"python -m devstack.stripe_local --url {fake_stripe.base_url} --help)")
    print("Press Ctrl-C to stop.\nready", flush=True)

    stop.wait()
    print("stopping...", flush=True)
    server.shutdown()
    outbox_server.shutdown()
    runner.stop()
    fake_stripe.stop()
    for served in [*fake_providers.values(), sms_served]:
        served.stop()
    keeper.stop()
    print(f"data saved to {args.state_dir}", flush=True)
    moto.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
