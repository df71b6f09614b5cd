"""Checking what a citizen types at the kiosk, before anything reaches the chain.

An ID number is the 18-character resident identity number (GB 11643): a 6-digit region,
a birth date that exists, a 3-digit sequence and the ISO 7064 MOD 11-2 check character.
A company is named by its 18-character unified social credit code. Each check answers
with a message for the screen (Chinese, then English) and never repeats the value.
"""

from __future__ import annotations

import datetime
import re

ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
USCC = re.compile(r"^[0-9A-Z]{18}$")
ITEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


class FormError(ValueError):
    """Bad input; the message is fit for the screen and holds no submitted value."""


def id_check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def check_id_number(raw: str) -> str:
    """The ID number, normalised (spaces gone, x -> X), or FormError saying what is wrong."""
    value = raw.replace(" ", "").upper()
    if not ID_NUMBER.match(value):
        raise FormError("身份证号应为18位（17位数字加1位数字或X） the ID number has 18 characters")
    try:
        datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise FormError("身份证号中的出生日期无效 the ID number's birth date is invalid") from None
    if id_check_char(value[:17]) != value[17]:
        raise FormError("身份证号校验位不符 the ID number's check character is wrong") from None
    return value


def check_company(raw: str) -> str:
    """A unified social credit code (or "" when none was given), or FormError."""
    value = raw.replace(" ", "").upper()
    if value and not USCC.match(value):
        raise FormError(
            "统一社会信用代码应为18位数字或大写字母 the credit code has 18 digits or letters"
        )
    return value


def check_item_code(raw: str, offered: tuple[str, ...]) -> str:
    """A service item this kiosk offers, or FormError."""
    if not ITEM_CODE.match(raw) or raw not in offered:
        raise FormError("本机不办理该服务事项 this kiosk does not offer that service item")
    return raw
