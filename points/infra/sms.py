"""Sending text messages, behind one small interface.

The default sender writes the message to the log (with the number masked),
which is all an embedded, offline install needs: staff read a code out of the
log if a member's phone cannot receive texts. A real SMS gateway is another
class with the same `send`, chosen by JIFEN_SMS_SENDER.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from points.privacy import mask_phone

log = logging.getLogger("jifen.sms")


@runtime_checkable
class Sender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class LogSender:
    async def send(self, phone: str, text: str) -> None:
        log.warning("SMS to %s: %s", mask_phone(phone), text)


SENDERS: dict[str, type] = {"log": LogSender}


def make_sender(name: str) -> Sender:
    return SENDERS[name]()
