"""Skill and track names: config.ini's skills and aliases, one spelling per name.

Skills are matched without regard to case, spacing or punctuation against
``[condition_service] skills`` and ``skill_aliases`` and come back in the
config's spelling. A skill the config does not know keeps the first
spelling the workbook used for it. Tracks go through ``track_aliases`` and
are likewise unified: ``Track 1`` and ``track 1`` are one track, spelt as
first seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from condition_service.sheets import normalise
from formats.estimates import DEFAULT_SIZES, parse_sizes

__all__ = ["Settings", "Vocabulary", "TRIAGE_WORDS", "close_to", "did_you_mean"]

# Words people write for a triage level (config: [condition_service] triage_words).
TRIAGE_WORDS = {
    **dict.fromkeys(("urgent", "critical", "p0", "must", "musthave", "blocker"), 1.0),
    **dict.fromkeys(("p1", "high"), 1.5),
    **dict.fromkeys(("p2", "medium", "should", "shouldhave", "normal"), 2.0),
    **dict.fromkeys(("p3", "low", "could", "couldhave"), 2.5),
    **dict.fromkeys(("p4", "wont", "wonthave", "nicetohave", "later"), 3.0),
}


def _distance(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance of two short words, or ``limit + 1`` once it is over ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, start=1):
        current = [i]
        for j, right in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def close_to(text: str, known: Iterable[str]) -> str | None:
    """The known name ``text`` most likely means: same letters but for case and spacing, or an
    edit distance of one or two (one for names of four letters or fewer); None when none."""
    key = normalise(text)
    best, best_distance = None, 3
    for name in known:
        other = normalise(name)
        if other == key:
            return name
        limit = 1 if min(len(key), len(other)) <= 4 else 2
        distance = _distance(key, other, limit)
        if distance <= limit and distance < best_distance:
            best, best_distance = name, distance
    return best


def did_you_mean(text: str, known: Iterable[str]) -> str:
    """`` (did you mean 'Design'?)`` or an empty string."""
    guess = close_to(text, known)
    return f" (did you mean {guess!r}?)" if guess and guess != text else ""


@dataclass(frozen=True)
class Settings:
    """What the conditioner reads from ``[condition_service]``."""

    skills: tuple[str, ...] = ("Apps", "Native", "Web", "QA", "UX")
    skill_aliases: Mapping[str, str] = field(default_factory=dict)
    track_aliases: Mapping[str, str] = field(default_factory=dict)
    sizes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SIZES))
    sheet_aliases: Mapping[str, str] = field(default_factory=dict)  # sheet name -> role
    triage_words: Mapping[str, float] = field(default_factory=lambda: dict(TRIAGE_WORDS))

    @classmethod
    def from_config(cls, config) -> Settings:
        """Read skills, aliases, sizes and triage words from a ``mesh.config.Config``."""
        from mesh.errors import ConfigError

        section = "condition_service"
        try:
            sizes = parse_sizes(config.text(section, "sizes"))
        except ValueError as exc:
            raise ConfigError(f"{config.file}: [{section}] sizes: {exc}") from None
        words = dict(TRIAGE_WORDS)
        for word, level in config.aliases(section, "triage_words").items():
            try:
                value = float(level)
            except ValueError:
                raise ConfigError(
                    f"{config.file}: [{section}] triage_words: {word}={level} needs a number 1-3"
                ) from None
            if not 1 <= value <= 3:
                raise ConfigError(
                    f"{config.file}: [{section}] triage_words: {word}={level} is not from 1 to 3"
                )
            words[normalise(word)] = value
        return cls(
            tuple(config.names(section, "skills")),
            config.aliases(section, "skill_aliases"),
            config.aliases(section, "track_aliases"),
            sizes,
            config.aliases(section, "sheet_aliases"),
            words,
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
        self.staff_tracks: list[str] = []  # the tracks people work on, once staff is read

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

    def known_tracks(self) -> list[str]:
        """The tracks seen so far (the staff sheet is read first)."""
        return list(self._tracks.values())

    def skill_names(self) -> list[str]:
        """Every skill and skill alias config.ini knows."""
        return [*self.settings.skills, *self.settings.skill_aliases]

    def skill_guess(self, text: str, more: Iterable[str] = ()) -> str:
        """`` (did you mean 'UX'?)`` for a name close to a skill or an alias (or to ``more``)."""
        guess = close_to(text, [*self.skill_names(), *more])
        if guess is None or guess == text:
            return ""
        skill = self.known_skill(guess)
        if skill is not None and normalise(skill) != normalise(guess):
            return f" (did you mean {guess!r}, that is {skill}?)"
        return f" (did you mean {guess!r}?)"
