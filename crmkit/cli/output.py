"""Moved to :mod:`crmkit.output` (the public output module); kept so that plugins
written against 0.1 still import."""

from ..output import *  # noqa: F401,F403
from ..output import json_option, money, parse_date, pass_crm, print_json, table  # noqa: F401
