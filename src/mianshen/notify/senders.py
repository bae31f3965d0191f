"""The senders of the outbox, one per channel (``senders_from_settings`` chooses them):

- ``FileSender`` (the default for SMS and e-mail, and the demo's): writes ``var/outbox/<channel>/<id>.txt``, a
  text a person can read; writing it is delivering it. Idempotent: the same id, the same file.
- ``InboxSender``: the portal's inbox is the outbox row itself; taking it is delivering it.
- ``SmtpSender``: a real SMTP client (``smtplib``), STARTTLS and login when configured. SMTP has no way to ask
  whether a message was taken: a sender killed after the server's 250 and before the state was written sends that
  e-mail again on the next attempt (at most once more per attempt; its Message-ID is the same, so a mail client
  shows one). Receipts: none (the message closes as ``sent`` after 72 hours).
- ``SmsGatewaySender``: an HTTP SMS gateway shaped like a Chinese cloud SMS API (``SendSms``: ``PhoneNumbers``,
  ``SignName``, ``TemplateCode``, ``TemplateParam`` as JSON, our ``OutId``; the answer's ``BizId`` is the
  provider's id). Their side is not idempotent, so after an attempt that may have reached them (a timeout, a
  crash) the sender asks ``QuerySendDetails`` by ``OutId`` before sending again. Receipts are pulled
  (``/sms/receipts``) and acknowledged once applied (applied idempotently: at least once is enough).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from django.conf import settings

from mianshen.policy.families import REFUND_WORDS

from .kinds import CATALOGUE, Channel, Kind
from .models import Message
from .services import Accepted, Receipt, Sender, SendFailed, SendRefused, SendTimeout, hide_secret, mask


class FileSender(Sender):
    """Messages as text files under ``root/<channel>/<id>.txt`` (written whole: a temporary file, renamed)."""

    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, msg: Message) -> Path:
        return self.root / msg.channel / f"{msg.pk}.txt"

    def send(self, msg: Message) -> Accepted:
        path = self.path(msg)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (
            f"收件人 To: {mask(msg.to, msg.channel)}\n"
            f"类型 Kind: {msg.kind}    渠道 Channel: {msg.channel}    单位 Unit: {msg.unit_id or '-'}\n"
            f"编号 Id: {msg.pk}    事由 Event: {msg.event}\n\n{msg.body_zh}\n\n{msg.body_en}\n"
        )
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return Accepted(provider_id=f"file:{msg.channel}/{msg.pk}.txt", delivered=True)

    def lookup(self, msg: Message) -> Accepted | None:
        if self.path(msg).exists():
            return Accepted(provider_id=f"file:{msg.channel}/{msg.pk}.txt", delivered=True)
        return None


class InboxSender(Sender):
    name = "inbox"

    def send(self, msg: Message) -> Accepted:
        return Accepted(provider_id=f"inbox:{msg.pk}", delivered=True)

    def lookup(self, msg: Message) -> Accepted | None:
        return self.send(msg)


def subject(params: Mapping[str, Any]) -> str:
    """An e-mail's subject: the benefit the message is about (its ``benefit`` parameter), in both languages;
    the refund's for a message about no benefit in particular (a code, a call-back)."""
    short, title = params.get("benefit"), params.get("Benefit")  # title: the English name capitalised
    if not isinstance(short, dict) or not isinstance(title, dict):
        short, title = REFUND_WORDS.both()["benefit"], REFUND_WORDS.both()["Benefit"]
    return f"{short['zh']}通知 / {title['en']}"


class SmtpSender(Sender):
    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str = "noreply@mianshen.invalid",
        timeout: float = 10.0,
        starttls: bool = False,
        username: str = "",
        password: str = "",
    ) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.starttls, self.username, self.password = starttls, username, password

    def message_id(self, msg: Message) -> str:
        return f"<mianshen-{msg.pk}@{self.sender.partition('@')[2] or 'mianshen.invalid'}>"

    def send(self, msg: Message) -> Accepted:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = msg.to
        email["Subject"] = subject(msg.params)
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = self.message_id(msg)
        email.set_content(f"{msg.body_zh}\n\n{msg.body_en}\n")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendRefused(f"recipient refused: {list(exc.recipients.values())[:1]}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise SendRefused(f"SMTP {exc.smtp_code}") from exc
            raise SendFailed(f"SMTP {exc.smtp_code}") from exc
        except TimeoutError as exc:
            raise SendTimeout("SMTP server did not answer in time") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"SMTP: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise SendRefused(f"recipient refused: {next(iter(refused.values()))}")
        return Accepted(provider_id=self.message_id(msg))


class SmsGatewaySender(Sender):
    """The SMS gateway client. Requests are JSON, signed with HMAC-SHA256 of the body under the access secret
    (header ``X-Signature``, with ``X-Access-Key``); answers carry ``Code`` (``OK`` or an error code)."""

    name = "sms-gateway"
    # Error codes that mean "never" (no retry): the number or the content is refused.
    REFUSED = frozenset({"isv.MOBILE_NUMBER_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.BLACK_KEY_CONTROL_LIMIT",
                         "isv.SMS_TEMPLATE_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL"})  # fmt: skip

    def __init__(
        self, url: str, *, access_key: str, secret: str, sign_name: str, timeout: float = 5.0
    ) -> None:
        self.url = url.rstrip("/")
        self.access_key, self.secret, self.sign_name, self.timeout = access_key, secret, sign_name, timeout

    def out_id(self, msg: Message) -> str:
        return f"m{msg.pk}"

    def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "X-Access-Key": self.access_key,
                     "X-Signature": signature},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                data = json.loads(answer.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise SendFailed(f"gateway answered HTTP {exc.code}") from exc
        except TimeoutError as exc:
            raise SendTimeout("gateway did not answer in time") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise SendTimeout("gateway did not answer in time") from exc
            raise SendFailed(f"gateway unreachable: {exc.reason}") from exc
        except (OSError, ValueError) as exc:
            raise SendFailed(f"gateway: {type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise SendFailed("gateway: an answer that is not a JSON object")
        return data

    def send(self, msg: Message) -> Accepted:
        info = CATALOGUE[Kind(msg.kind)]
        params = {k: (v.get("zh", "") if isinstance(v, dict) else str(v)) for k, v in msg.params.items()}
        data = self._call(
            "/sms/send",
            {"PhoneNumbers": msg.to, "SignName": self.sign_name, "TemplateCode": info.sms_template,
             "TemplateParam": json.dumps(params, ensure_ascii=False, sort_keys=True), "OutId": self.out_id(msg)},
        )  # fmt: skip
        code = str(data.get("Code", ""))
        if code == "OK" and data.get("BizId"):
            return Accepted(provider_id=str(data["BizId"]))
        if code in self.REFUSED:
            raise SendRefused(f"gateway refused: {code}")
        raise SendFailed(f"gateway: {code or 'no code'} {str(data.get('Message', ''))[:100]}")

    def lookup(self, msg: Message) -> Accepted | None:
        data = self._call("/sms/query", {"PhoneNumber": msg.to, "OutId": self.out_id(msg)})
        if data.get("Code") != "OK":
            raise SendFailed(f"gateway query: {data.get('Code')}")
        details = data.get("Details") or []
        if not details:
            return None
        return Accepted(provider_id=str(details[0]["BizId"]))

    def receipts(self) -> list[Receipt]:
        data = self._call("/sms/receipts", {"Max": 500})
        out = []
        for item in data.get("Receipts") or []:
            ok = bool(item.get("Success"))
            out_id = str(item.get("OutId", ""))
            ours = int(out_id[1:]) if out_id[:1] == "m" and out_id[1:].isdigit() else None
            error = "" if ok else str(item.get("ErrCode", ""))[:100]
            out.append(Receipt(str(item.get("BizId", "")), ok, error, ours))
        return out

    def ack(self, receipts: list[Receipt]) -> None:
        self._call("/sms/receipts/ack", {"BizIds": [r.provider_id for r in receipts]})


def senders_from_settings() -> dict[str, Sender]:
    """The sender of each channel as settings say (docs/notify.md): files by default; an SMS gateway when
    ``NOTIFY_SMS_GATEWAY_URL`` is set, SMTP when ``NOTIFY_SMTP_HOST`` is."""
    files = FileSender(Path(settings.NOTIFY_OUTBOX_DIR))
    senders: dict[str, Sender] = {Channel.SMS: files, Channel.EMAIL: files, Channel.INBOX: InboxSender()}
    if settings.NOTIFY_SMS_GATEWAY_URL:
        senders[Channel.SMS] = SmsGatewaySender(
            settings.NOTIFY_SMS_GATEWAY_URL,
            access_key=settings.NOTIFY_SMS_ACCESS_KEY,
            secret=settings.NOTIFY_SMS_SECRET,
            sign_name=settings.NOTIFY_SMS_SIGN_NAME,
        )
    if settings.NOTIFY_SMTP_HOST:
        senders[Channel.EMAIL] = SmtpSender(
            settings.NOTIFY_SMTP_HOST,
            settings.NOTIFY_SMTP_PORT,
            sender=settings.NOTIFY_SMTP_FROM,
            starttls=settings.NOTIFY_SMTP_STARTTLS,
            username=settings.NOTIFY_SMTP_USER,
            password=settings.NOTIFY_SMTP_PASSWORD,
        )
    return senders


__all__ = [
    "FileSender",
    "InboxSender",
    "SmsGatewaySender",
    "SmtpSender",
    "hide_secret",
    "senders_from_settings",
]
