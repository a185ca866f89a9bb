"""Where events go out: one plugin per program (COP-BH, DETRO).

Covers: PB-05.
"""

from guarita.config import GuaritaConfig, ProgramName
from guarita.plugins.cop_bh import CopBhPlugin
from guarita.plugins.detro import DetroPlugin
from guarita.plugins.program import ProgramPlugin

__all__ = ["CopBhPlugin", "DetroPlugin", "ProgramPlugin", "plugins_for"]


def plugins_for(config: GuaritaConfig) -> dict[ProgramName, ProgramPlugin]:
    """One plugin per configured program."""
    made: dict[ProgramName, ProgramPlugin] = {}
    for program in config.programs:
        root = config.topic_root(program)
        forward = config.programs[program].forward
        if program is ProgramName.COP_BH:
            made[program] = CopBhPlugin(config.provider.id, root, config.camera_agencies, forward=forward)
        else:
            made[program] = DetroPlugin(config.provider.id, root, forward=forward)
    return made
