"""The account emails (verify an address, reset a password, an invitation), sent through SES
(locally: the outbox). Plain wording, the link, how long it lasts; HTML escaped."""

from __future__ import annotations

import html
import logging

from chalicelib.adapters import email
from chalicelib.adapters.channels import DeliveryError

log = logging.getLogger("costpilot.account_mail")


def _send(to: str, subject: str, lines: list[str], link: str, button: str) -> bool:
    text = "\n\n".join([*lines, link, "If you did not ask for this, ignore this email."])
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    rich = (f"<html><body>{body}<p><a href=\"{html.escape(link)}\">{html.escape(button)}</a></p>"
            "<p>If you did not ask for this, ignore this email.</p></body></html>")
    try:
        email.send([to], subject, text, rich)
    except DeliveryError as e:  # the caller's answer does not change (no enumeration); the log says why
        log.warning("account email (%s) not sent: %s", subject, e.message)
        return False
    return True


def verification(to: str, link: str, hours: int) -> bool:
    return _send(to, "Verify your email address for CostPilot",
                 ["Confirm that this address is yours to receive CostPilot's alert emails.",
                  f"The link works once, for {hours} hours."], link, "Verify my email address")


def password_reset(to: str, link: str, minutes: int) -> bool:
    return _send(to, "Reset your CostPilot password",
                 ["Someone (hopefully you) asked to reset the password of this CostPilot account.",
                  f"The link works once, for {minutes} minutes. Every session is logged out when the "
                  "password changes."], link, "Choose a new password")


def invitation(to: str, link: str, workspace_name: str, inviter: str, days: int) -> bool:
    return _send(to, f"You are invited to {workspace_name} on CostPilot",
                 [f"{inviter} invited you to the CostPilot workspace \"{workspace_name}\".",
                  f"The link works once, for {days} days: sign up, or log in if you have an account."],
                 link, "Join the workspace")
