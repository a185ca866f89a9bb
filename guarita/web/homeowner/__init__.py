"""The homeowner's opt-in and withdrawal pages (``/h/``, ``pages.py``), and the invitations that lead to them.

Nothing is imported here, so ``guarita consent invite`` does not load the page templates' libraries:
import ``guarita.web.homeowner.pages`` (``make_homeowner_app``) or ``.invitations`` (``create_invitation``).

Covers: PB-07, BH-03, BH-04, BH-07.
"""

__all__: list[str] = []
