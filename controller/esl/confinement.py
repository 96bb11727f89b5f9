"""A call's applications never name another account's files.

The folders the controller keeps per account (`<voicemail_dir>/<account>/`, `<fax_dir>/<account>/`,
`<recordings_dir>/<account>/`, `<media dir>/<account>/`) hold one tenant's voicemail, faxes, call
recordings and prompts. A callflow is tenant text: left alone, its `play` of
`/var/lib/freeswitch/storage/voicemail/<another account>/...` would play another tenant's
messages to the caller, and a relative `../../..` would climb out of
FreeSWITCH's sounds folder to the same place. So, once a call is placed in its account, every
application argument sent for it is looked at (Session.execute_all):

- no `..` path segment, in any argument (FreeSWITCH resolves a relative media path against its
  sound prefix, and a variable such as `ringback` names a file too);
- every absolute path inside one of those folders must be inside the call's own account's
  folder (paths compared once normalised: `//`, `/./` and repeated slashes change nothing).

Paths elsewhere (FreeSWITCH's sounds, an operator's own prompt folder) are left alone. A refused
argument is not sent: the module fails, and the flow goes on at its `_` child.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from controller.config import Settings
from controller.store.media import media_root

# An absolute path inside an argument: after its start or a separator FreeSWITCH uses between
# values (space, `!` of file_string, `=` of variables, `,`, the multiset separator, quotes,
# brackets), up to the next one.
_SEPARATORS = "\\s!=,:\x1f'\"\\[\\]{}|"
ABSOLUTE = re.compile(rf"(?:^|(?<=[{_SEPARATORS}]))(/+[^{_SEPARATORS}]*)")
CLIMB = re.compile(rf"(?:^|[{_SEPARATORS}/])\.\.(?:$|[{_SEPARATORS}/])")


def account_roots(settings: Settings) -> tuple[str, ...]:
    """The folders that hold one subfolder per account."""
    return tuple(os.path.normpath(os.path.abspath(root))
                 for root in (settings.voicemail_dir, getattr(settings, "fax_dir", ""),
                              getattr(settings, "recordings_dir", ""), media_root(settings)) if root)


class Confinement:
    """What one call's application arguments may name (see the module's docstring)."""

    def __init__(self, account_id: str, roots: Iterable[str]) -> None:
        self.account_id = account_id
        self.roots = tuple(roots)

    def refusal(self, arg: str) -> str | None:
        """Why the argument may not be sent for this call, or None."""
        if ".." in arg and CLIMB.search(arg):
            return "a path climbs out of its folder with '..'"
        if "/" not in arg:
            return None
        for found in ABSOLUTE.finditer(arg):
            path = "/" + os.path.normpath(found.group(1)).lstrip("/")
            for root in self.roots:
                own = f"{root}/{self.account_id}"
                if (path == root or path.startswith(root + "/")) and not (path == own or path.startswith(own + "/")):
                    return f"{found.group(1)} is in {root} but not in this account's folder"
        return None
