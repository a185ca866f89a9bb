"""The homeowner's opt-in and withdrawal pages (``/h/``), and the invitations that lead to them.

Covers: PB-07, BH-03, BH-04, BH-07.
"""

from guarita.web.homeowner.invitations import create_invitation, write_qr
from guarita.web.homeowner.pages import HOMEOWNER_PREFIX, make_homeowner_app

__all__ = ["HOMEOWNER_PREFIX", "create_invitation", "make_homeowner_app", "write_qr"]
