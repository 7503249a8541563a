"""Sending email through SES: one multipart message (plain text and HTML) per notification.

``send_raw_email`` is used rather than ``send_email`` so the message carries both parts and our
own headers (the notification key, so a reader or a mail filter can tell duplicates apart).
Throttling and SES outages are retryable; a rejected message or address is not.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from chalicelib import aws, config
from chalicelib.adapters.channels import DeliveryError

_RETRYABLE_CODES = {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure",
                    "RequestTimeout", "TooManyRequestsException"}


def build(to: list[str], subject: str, text: str, html: str, headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr(("CostPilot alerts", config.alert_sender()))
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=config.alert_sender().split("@")[-1])
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send(to: list[str], subject: str, text: str, html: str, headers: dict[str, str] | None = None) -> str:
    """Sends one message to ``to``; returns the SES message id."""
    from botocore.exceptions import BotoCoreError, ClientError

    msg = build(to, subject, text, html, headers)
    try:
        response = aws.client("ses").send_raw_email(
            Source=config.alert_sender(), Destinations=to, RawMessage={"Data": msg.as_bytes()})
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        raise DeliveryError(f"SES refused the message ({code})", retryable=code in _RETRYABLE_CODES) from None
    except BotoCoreError as e:
        raise DeliveryError(f"SES could not be reached ({type(e).__name__})") from None
    return response["MessageId"]
