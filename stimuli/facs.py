"""FACS action units of the pain face and the Prkachin–Solomon Pain Intensity (PSPI).

PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43, with AU4 (brow lowerer), AU6 (cheek
raiser), AU7 (lid tightener), AU9 (nose wrinkler) and AU10 (upper-lip raiser) rated 0–5 and
AU43 (eyes closed) 0/1, so PSPI runs 0–16. Mouth opening (AU25 lips part, AU26 jaw drop,
AU27 mouth stretch) belongs to the pain face but not to the PSPI.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["ActionUnits"]


@dataclass(frozen=True)
class ActionUnits:
    """FACS action-unit intensities: AU4, AU6, AU7, AU9, AU10, AU26, AU27 0–5; AU25, AU43 0/1."""

    au4: float = 0
    au6: float = 0
    au7: float = 0
    au9: float = 0
    au10: float = 0
    au43: float = 0
    au25: float = 0
    au26: float = 0
    au27: float = 0

    def __post_init__(self):
        for f in fields(self):
            value, top = getattr(self, f.name), (1 if f.name in ("au25", "au43") else 5)
            if not 0 <= value <= top:
                raise ValueError(f"'{f.name}' must be from 0 to {top} (got {value})")

    @property
    def pspi(self):
        """Prkachin–Solomon Pain Intensity of these action units (0–16)."""
        return self.au4 + max(self.au6, self.au7) + max(self.au9, self.au10) + self.au43

    @classmethod
    def from_pspi(cls, pspi):
        """Action units with the given integer PSPI (0–16), spread evenly over the pain actions.

        Eyes close (AU43) from PSPI 13; the mouth opens in proportion to PSPI.
        """
        if isinstance(pspi, bool) or int(pspi) != pspi or not 0 <= pspi <= 16:
            raise ValueError(f"'pspi' must be an integer from 0 to 16 (got {pspi!r})")
        pspi = int(pspi)
        au43 = 1 if pspi >= 13 else 0
        base, extra = divmod(pspi - au43, 3)
        orbital, nose = base + (extra >= 2), base
        return cls(au4=base + (extra >= 1), au6=orbital, au7=orbital, au9=nose, au10=nose, au43=au43,
                   au25=1 if pspi > 0 else 0, au26=round(5 * pspi / 16))
