"""Serve every fake provider on loopback: ``python -m devstack.fakes [--seed N]``.

Prints one ``COSTPILOT_PROVIDER_URL_<PROVIDER>=<base url>`` line per fake (the variables
``chalicelib.config.provider_base_url`` reads) and the credentials each fake accepts.
"""

from __future__ import annotations

import argparse

from devstack.fakes import (
    FakeAnthropic,
    FakeBigQuery,
    FakeOpenAI,
    FakeStripeBalance,
    FakeTwilio,
    serve,
)
from devstack.fakes import twilio as twilio_fake
from devstack.stop_signals import StopSignals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fakes = {
        "openai": (FakeOpenAI(seed=args.seed), lambda f: {"admin_key": f.admin_key}),
        "anthropic": (FakeAnthropic(seed=args.seed), lambda f: {"admin_key": f.admin_key}),
        "twilio": (FakeTwilio(seed=args.seed),
                   lambda f: {"account_sid": f.account_sid, "auth_token": twilio_fake.AUTH_TOKEN}),
        "stripe": (FakeStripeBalance(seed=args.seed), lambda f: {"api_key": f.api_key}),
        "gcp": (FakeBigQuery(seed=args.seed), lambda f: {"project": f.project, "dataset": f.dataset,
                                                         "service_account_key": "<FakeBigQuery().credentials()>"}),
    }
    stop = StopSignals()  # before the addresses are printed: from then on Ctrl-C stops the fakes cleanly
    served = []
    for name, (fake, credentials) in fakes.items():
        handle = serve(fake)
        served.append(handle)
        print(f"COSTPILOT_PROVIDER_URL_{name.upper()}={handle.base_url}  # credentials: {credentials(fake)}",
              flush=True)
    stop.wait()
    for handle in served:
        handle.stop()


if __name__ == "__main__":
    main()
