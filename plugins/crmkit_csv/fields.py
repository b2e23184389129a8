"""What a file's columns mean: fields per kind, header aliases, cell conversion.

Headers are matched after normalisation (case folded; spaces, ``_``, ``-``, ``.``
and ``*`` removed), first against the field names, then against the aliases below,
then ``--map COLUMN=field`` overrides both.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crmkit import ValidationError
from crmkit.i18n import Domain

_ = Domain("crmkit_csv").gettext

KINDS = ("customers", "contacts", "activities", "documents")
REF = ("customer_id", "customer_external_id", "customer_name")
FIELDS: dict[str, tuple[str, ...]] = {
    "customers": ("external_id", "name", "kind", "status", "owner", "email", "phone",
                  "address", "tags", "extra"),
    "contacts": (*REF, "name", "title", "email", "phone"),
    "activities": (*REF, "kind", "subject", "body", "owner", "occurred_at", "due_on",
                   "done_at", "extra"),
    "documents": (*REF, "kind", "number", "status", "amount", "currency", "issued_on",
                  "due_on", "applies_to", "lines", "attachment", "extra", "rate", "terms"),
}
# Written by `export` for information, ignored by `import` (the database assigns or
# computes them).
SYSTEM = ("id", "created_at", "updated_at", "base_amount")

_COMMON = {
    "email": "email", "邮箱": "email", "电子邮件": "email", "电子邮箱": "email",
    "mail": "email", "emailaddress": "email",
    "phone": "phone", "电话": "phone", "手机": "phone", "联系电话": "phone",
    "手机号": "phone", "telephone": "phone", "tel": "phone", "mobile": "phone",
    "phonenumber": "phone",
    "owner": "owner", "负责人": "owner", "业务员": "owner", "销售": "owner",
    "salesperson": "owner", "salesrep": "owner", "accountowner": "owner",
    "扩展": "extra",
}
_REF = {
    "客户id": "customer_id", "customerid": "customer_id",
    "客户编号": "customer_external_id", "客户外部编号": "customer_external_id",
    "customerexternalid": "customer_external_id", "customercode": "customer_external_id",
    "客户名称": "customer_name", "客户": "customer_name", "公司名称": "customer_name",
    "公司": "customer_name", "company": "customer_name", "customer": "customer_name",
    "customername": "customer_name",
}
ALIASES: dict[str, dict[str, str]] = {
    "customers": {
        **_COMMON,
        "客户名称": "name", "名称": "name", "公司名称": "name", "客户": "name",
        "company": "name", "companyname": "name", "customer": "name",
        "customername": "name",
        "编号": "external_id", "客户编号": "external_id", "外部编号": "external_id",
        "code": "external_id", "customercode": "external_id", "erpid": "external_id",
        "类型": "kind", "type": "kind", "状态": "status",
        "地址": "address", "标签": "tags", "tag": "tags",
    },
    "contacts": {
        **_COMMON, **_REF,
        "姓名": "name", "联系人": "name", "名称": "name", "contact": "name",
        "contactname": "name", "职位": "title", "职务": "title", "jobtitle": "title",
        "position": "title",
    },
    "activities": {
        **_COMMON, **_REF,
        "类型": "kind", "type": "kind", "主题": "subject", "标题": "subject",
        "内容": "body", "备注": "body", "notes": "body", "description": "body",
        "时间": "occurred_at", "发生时间": "occurred_at", "日期": "occurred_at",
        "date": "occurred_at", "time": "occurred_at", "at": "occurred_at",
        "截止日期": "due_on", "到期日": "due_on", "due": "due_on", "duedate": "due_on",
        "完成时间": "done_at",
    },
    "documents": {
        **_COMMON, **_REF,
        "类型": "kind", "单据类型": "kind", "type": "kind",
        "编号": "number", "单号": "number", "单据编号": "number", "发票号": "number",
        "no": "number", "documentnumber": "number", "状态": "status",
        "金额": "amount", "total": "amount", "币种": "currency",
        "日期": "issued_on", "开票日期": "issued_on", "签订日期": "issued_on",
        "issuedate": "issued_on", "date": "issued_on",
        "到期日": "due_on", "截止日期": "due_on", "duedate": "due_on", "due": "due_on",
        "关联发票": "applies_to", "核销发票": "applies_to", "appliesto": "applies_to",
        "明细": "lines", "产品明细": "lines", "附件": "attachment",
        "汇率": "rate", "exchangerate": "rate", "付款条件": "terms", "分期": "terms",
        "paymentterms": "terms",
    },
}
# Cell values in Chinese for fixed sets (the stored value is always the English one).
VALUES: dict[str, dict[str, str]] = {
    "customers.kind": {"公司": "company", "企业": "company", "个人": "person"},
    "customers.status": {"潜在": "prospect", "潜在客户": "prospect", "活跃": "active",
                         "成交": "active", "流失": "lost", "归档": "archived"},
    "activities.kind": {"电话": "call", "拜访": "visit", "邮件": "email", "会议": "meeting",
                        "备注": "note", "任务": "task"},
    "documents.kind": {"报价": "quote", "报价单": "quote", "合同": "contract",
                       "订单": "order", "发票": "invoice", "收款": "payment",
                       "付款": "payment", "红字发票": "credit_note", "费用": "expense"},
}
# Free text keeps its whitespace (multi-line bodies round-trip); other cells are stripped.
KEEP_SPACE = {"address", "body", "subject", "title", "attachment"}
_NORM = re.compile(r"[\s_\-.*:：]+")
_TAG_SEP = re.compile(r"[,，、;；]")
_LINE_SEP = re.compile(r"(?<!\\);")
_NONDIGIT = re.compile(r"\D+")


def norm_header(h: Any) -> str:
    return _NORM.sub("", str(h or "").replace("\ufeff", "")).casefold()


def map_header(kind: str, header: list[str], overrides: list[str]) -> tuple[dict[str, int],
                                                                            list[str]]:
    """``{field: column index}`` and the names of ignored columns, or ValidationError."""
    fields = FIELDS[kind]
    by_norm = {norm_header(f): f for f in fields} | {norm_header(f): "" for f in SYSTEM}
    aliases = ALIASES[kind]
    forced: dict[int, str] = {}
    for item in overrides:
        col, sep, field = item.partition("=")
        col, field = col.strip(), field.strip()
        if not sep or not col:
            raise ValidationError(_("invalid --map '{item}'; expected COLUMN=field").format(
                                      item=item))
        if field not in fields:
            raise ValidationError(_("unknown field '{field}' in --map '{item}'; "
                                    "valid for {kind}: {valid}").format(
                                      field=field, item=item, kind=kind, valid=', '.join(fields)))
        idx = [i for i, h in enumerate(header) if str(h).strip() == col] or [
            i for i, h in enumerate(header) if norm_header(h) == norm_header(col)]
        if not idx:
            raise ValidationError(_("column '{col}' in --map '{item}' is not in "
                                    "the file; columns: {valid}").format(
                                      col=col, item=item, valid=', '.join(map(str, header))))
        forced[idx[0]] = field
    mapping: dict[str, int] = {}
    ignored: list[str] = []
    for i, h in enumerate(header):
        n = norm_header(h)
        if not n:
            continue
        field = forced.get(i) or by_norm.get(n)
        if field is None:
            field = aliases.get(n)
        if field == "":
            continue  # a system column (id, created_at, updated_at)
        if field is None:
            ignored.append(str(h))
            continue
        if field in mapping:
            other = header[mapping[field]]
            if i in forced and mapping[field] not in forced:
                mapping[field] = i
                ignored.append(str(other))
                continue
            raise ValidationError(_("columns '{other}' and '{h}' both map to field "
                                    "'{field}'; choose one with --map").format(
                                      other=other, h=h, field=field))
        mapping[field] = i
    required = {"customers": ("name",), "contacts": ("name",),
                "activities": ("kind", "subject"), "documents": ("kind", "number")}[kind]
    for f in required:
        if f not in mapping:
            raise ValidationError(_("the file has no column for '{f}' (columns: "
                                    "{valid}); name one with --map COLUMN={f}").format(
                                      f=f, valid=', '.join(map(str, header))))
    if kind != "customers" and not any(f in mapping for f in REF):
        raise ValidationError(_("the file has no customer column (customer_id, "
                                "customer_external_id or customer_name, e.g. 客户编号 "
                                "or 客户名称); columns: {valid}").format(
                                  valid=', '.join(map(str, header))))
    return mapping, ignored


def cell_text(value: Any) -> str:
    """A cell as text: what the rejected-rows file and error reports show."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def convert(kind: str, field: str, value: Any) -> Any:
    """One cell to the value the service expects; None for an empty cell.

    Raises ValueError with the reason for a cell that cannot be read."""
    return converter(kind, field)(value)


def is_plain(kind: str, field: str) -> bool:
    """A column whose text cells are only stripped (no parsing, no value aliases)."""
    return not (field in KEEP_SPACE or field in ("tags", "lines", "extra", "customer_id",
                                                 "amount") or f"{kind}.{field}" in VALUES)


def converter(kind: str, field: str) -> Callable[[Any], Any]:
    """The conversion of one column, chosen once per import (plain text is the fast
    path: a stripped string, or None when empty)."""
    fixed = VALUES.get(f"{kind}.{field}")
    keep = field in KEEP_SPACE
    special = field in ("tags", "lines", "extra", "customer_id", "amount") or fixed

    def general(value: Any) -> Any:
        if isinstance(value, list | dict):
            if field in ("tags", "lines") and isinstance(value, list):
                return [cell_text(v) for v in value] or None
            if field == "extra" and isinstance(value, dict):
                return value or None
            raise ValueError(_("{field} cannot be {name}").format(
                                 field=field, name=type(value).__name__))
        if field == "amount" and isinstance(value, Decimal | int) and not isinstance(
                value, bool):
            return value
        text = cell_text(value)
        if keep:
            return text if text.strip() else None
        text = text.strip()
        if not text or not special:
            return text or None
        if field == "tags":
            return [t.strip() for t in _TAG_SEP.split(text) if t.strip()]
        if field == "lines":
            return [ln.replace("\\;", ";").replace("\\\\", "\\").strip()
                    for ln in _LINE_SEP.split(text) if ln.strip()]
        if field == "extra":
            try:
                obj = json.loads(text)
            except ValueError:
                raise ValueError(_("extra is not valid JSON")) from None
            if not isinstance(obj, dict):
                raise ValueError(_("extra must be a JSON object"))
            return obj or None
        if field == "customer_id":
            if not text.isdigit():
                raise ValueError(_("customer id '{text}' is not a number").format(
                                     text=text))
            return int(text)
        if fixed:
            return fixed.get(text, text.lower() if text.isascii() else text)
        return text

    if keep:
        def kept(value: Any) -> Any:  # a text cell as it is (the fast path), or None
            if value.__class__ is str:
                return value if value.strip() else None
            return general(value)

        return kept
    if field == "tags":
        def tags(value: Any) -> Any:  # "vip,华东" -> ["vip", "华东"] (the fast path)
            if value.__class__ is str:
                text = value.strip()
                return [t for t in map(str.strip, _TAG_SEP.split(text)) if t] if text else None
            return general(value)

        return tags
    if special:
        return general

    def plain(value: Any) -> Any:
        if value.__class__ is str:
            return value.strip() or None
        return general(value)

    return plain


def line_text(product: str, quantity: Any, price: str, cost: str | None = None, *,
              escape: bool = True) -> str:
    """One document line as ``PRODUCT:QTY:PRICE`` or, with a unit cost,
    ``PRODUCT:QTY:PRICE:COST`` (``;`` and ``\\`` escaped). A product whose name itself
    holds ``:`` gets an empty cost part at least (``Model:7:1:5:``), so that reading the
    text back never takes a number of the name for a quantity. ``escape=False`` for a
    JSON list, where each line is its own string."""
    p = product.replace("\\", "\\\\").replace(";", "\\;") if escape else product
    if cost is None and ":" in product:
        cost = ""
    return f"{p}:{quantity}:{price}" + ("" if cost is None else f":{cost}")


def norm_name(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def digits(phone: str | None) -> str:
    return _NONDIGIT.sub("", phone) if phone else ""


# --- cells that a spreadsheet would run, and characters XML cannot hold ------------

#: A CSV cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV
#: Injection"): export puts a ``'`` before it, import takes one ``'`` off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTED = re.compile(r"^'+[=+\-@\t\r]")
# characters XML 1.0 cannot hold, and CR (an XML reader turns it into LF); OOXML
# writes them as _xHHHH_ (as Excel does)
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff]")
_XML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def neutralise(text: str) -> str:
    """``=1+1`` -> ``'=1+1`` (and ``'=x`` -> ``''=x``, so that :func:`unneutralise`
    gives back exactly what was written)."""
    if text.startswith(FORMULA_START) or _QUOTED.match(text):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """Undo :func:`neutralise`: one ``'`` off a cell that starts with quotes and then a
    formula character."""
    return text[1:] if _QUOTED.match(text) else text


def xlsx_escape(text: str) -> str:
    """Control characters as OOXML ``_xHHHH_`` escapes (and a literal ``_xHHHH_`` with
    its underscore escaped, ``_x005F_``), so that any text can go into a sheet."""
    text = _XML_ESCAPED.sub(lambda m: "_x005F_" + m.group(0)[1:], text)
    return _XML_ILLEGAL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)


def xlsx_unescape(text: str) -> str:
    """Undo :func:`xlsx_escape` (what Excel does on reading, too)."""
    if "_x" not in text:
        return text
    return _XML_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)

