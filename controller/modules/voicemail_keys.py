"""The keys of Kazoo's voicemail menus: the defaults of cf_voicemail's `#keys{}` record, one
name per field, so that a caller used to Kazoo presses the same keys here.

Kazoo can also seek back (`5`) and forward (`8`) while a message plays; that is off unless the
system and the box both enable it (`is_voicemail_ff_rw_enabled`), and it is not offered here.
"""

from __future__ import annotations

OPERATOR = "0"  # while the greeting plays, and after a message was recorded: ring the operator
LOGIN = "*"  # while the greeting plays: log in to the box instead of leaving a message

# After a message was recorded (Kazoo's review_recording).
SAVE = "1"
LISTEN = "2"
RECORD = "3"

# The main menu.
HEAR_NEW = "1"
HEAR_SAVED = "2"
CONFIGURE = "5"
EXIT = "#"

# The settings menu.
REC_UNAVAILABLE = "1"
REC_NAME = "2"
SET_PIN = "3"
REC_TEMPORARY_UNAVAILABLE = "4"
DEL_TEMPORARY_UNAVAILABLE = "5"
RETURN_MAIN = "0"  # also after a message: save it and go back to the main menu

# After each message played.
KEEP = "1"
REPLAY = "2"
FORWARD = "3"
PREV = "4"
NEXT = "6"
DELETE = "7"
CALLBACK = "9"
