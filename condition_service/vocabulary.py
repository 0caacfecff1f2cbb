"""Skill and track names: config.ini's skills and aliases, one spelling per name.

Skills are matched without regard to case, spacing or punctuation against
``[condition_service] skills`` and ``skill_aliases`` and come back in the
config's spelling. A skill the config does not know keeps the first
spelling the workbook used for it. Tracks go through ``track_aliases`` and
are likewise unified: ``Track 1`` and ``track 1`` are one track, spelt as
first seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from condition_service.sheets import normalise

__all__ = ["Settings", "Vocabulary"]


@dataclass(frozen=True)
class Settings:
    """What the conditioner reads from ``[condition_service]``."""

    skills: tuple[str, ...] = ("Apps", "Native", "Web", "QA", "UX")
    skill_aliases: Mapping[str, str] = field(default_factory=dict)
    track_aliases: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config) -> Settings:
        """Read skills and aliases from a ``mesh.config.Config``."""
        section = "condition_service"
        return cls(
            tuple(config.names(section, "skills")),
            config.aliases(section, "skill_aliases"),
            config.aliases(section, "track_aliases"),
        )


def _track_key(name: str) -> str:
    """A track name as tracks are compared: lower case, single spaces."""
    return " ".join(name.lower().split())


class Vocabulary:
    """Turns the skill and track names a workbook uses into one spelling each."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._skills = {normalise(skill): skill for skill in settings.skills}
        self._aliases = {
            normalise(alias): self._skills.get(normalise(name), name)
            for alias, name in settings.skill_aliases.items()
        }
        self._unknown: dict[str, str] = {}
        self._track_aliases = {
            _track_key(alias): name for alias, name in settings.track_aliases.items()
        }
        self._tracks: dict[str, str] = {}

    def known_skill(self, text: str) -> str | None:
        """The config's spelling of a skill or skill alias, or None."""
        key = normalise(text)
        return self._skills.get(key) or self._aliases.get(key)

    def skill(self, text: str) -> tuple[str, bool]:
        """One spelling of a skill, and whether config.ini knows it."""
        known = self.known_skill(text)
        if known is not None:
            return known, True
        return self._unknown.setdefault(normalise(text), text.strip()), False

    def track(self, text: str) -> str:
        """One spelling of a track, after ``track_aliases``."""
        name = self._track_aliases.get(_track_key(text), text.strip())
        return self._tracks.setdefault(_track_key(name), name)
