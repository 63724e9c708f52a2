"""Opening a page in the person's browser, and saying so when there is none to open (a server, an SSH
session): the page is still there, at the address given."""

from __future__ import annotations

import webbrowser

from nsclient.command.common import info


def open_page(address: str, what: str) -> bool:
    """Open `address` (a file:// or http:// URL); whether a browser took it."""
    try:
        opened = webbrowser.open(address)
    except webbrowser.Error:
        opened = False
    if not opened:
        info(f"Could not open a browser here: open {what} at {address} in one yourself.")
    return opened
