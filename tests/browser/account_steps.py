"""Browser steps for the account emails: open the link a message in the local outbox carries."""

from __future__ import annotations

import re
import time

import httpx


def mail_link(stack, email: str, subject_starts: str, timeout: float = 30) -> str:
    """The path (with its #token) of the link in the newest email to ``email`` whose subject starts so."""
    outbox = stack.banner_url("Outbox (emails sent):")
    deadline = time.time() + timeout
    while True:
        mails = [m for m in httpx.get(f"{outbox}/messages.json", params={"to": email}).json()
                 if m["subject"].startswith(subject_starts)]
        if mails or time.time() > deadline:
            break
        time.sleep(0.2)
    assert mails, f"no email {subject_starts!r} to {email}"
    return re.search(r"https?://[^/\s]+(/app/[\w-]+#token=[\w-]+)", mails[-1]["text"]).group(1)


def verify_email(tab, stack, email: str) -> None:
    """Follows the sign-up's verification link in the browser, as the user would from the email."""
    tab.goto(mail_link(stack, email, "Verify your email"))
    tab.page.get_by_text(f"{email} is verified").wait_for()
