"""The service URL of a connection (``url``, ``base_url``): https, and no credentials inside.

The bearer token or Basic header goes to this address on every request, so a
plain ``http://`` URL would send it unencrypted to whoever is on the path; it
is accepted only for loopback hosts, where the sandboxes listen. A user name or
password inside the URL (``https://bot:TOKEN@site``) is a secret in the config
file, and would be echoed wherever the site is named; it is refused. Messages
never quote the value (it may hold a secret).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

#: Host names a plain http:// URL may name besides loopback addresses: this machine.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost`` or any loopback address (127.0.0.0/8, ::1)."""
    host = host.lower().strip("[]")
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


USERINFO = "a user name or password inside the URL is not allowed"


def check_service_url(value: str) -> str:
    """``value`` if it is an https URL (http only on loopback) with a host and no userinfo.

    Raises:
        ValueError: saying what is wrong, without quoting the value.
    """
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts, host = urlsplit(""), ""
    if "@" in parts.netloc:
        raise ValueError(
            f"{USERINFO}; credentials go in the connection's token (an environment variable)"
        )
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise ValueError("must be an https:// URL with a host, such as https://acme.atlassian.net")
    if scheme == "http" and not is_loopback(host):
        raise ValueError(
            "plain http:// would send the token unencrypted; use https:// "
            "(http:// is accepted only for loopback hosts: 127.0.0.0/8, ::1 and localhost)"
        )
    return value


#: A ``str`` field holding a service URL, checked as :func:`check_service_url` says.
ServiceUrl = Annotated[str, AfterValidator(check_service_url)]
