"""What every service call needs besides its arguments: who acts, today, and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from ..config import Config
from ..protocol import Settings
from .audit import Actor


@dataclass(frozen=True, slots=True)
class Context:
    """The acting user, the clinic's date and the configured rules, passed to each verb."""

    actor: Actor
    today: date
    settings: Settings = field(default_factory=Settings)
    default_protocol: str = "no-hdir-2025"
    accept_synthetic_ids: bool = False
    reference_prefix: str = "P-"
    # The clinics whose patients the actor may touch; None for the command line (all).
    clinic_ids: frozenset[int] | None = None

    @classmethod
    def from_config(
        cls, config: Config, actor: Actor, today: date, clinic_ids: frozenset[int] | None = None
    ) -> Context:
        """A context from the loaded configuration."""
        return cls(
            actor,
            today,
            config.settings,
            config.protocol.default,
            config.patients.accept_synthetic_ids,
            config.patients.reference_prefix,
            clinic_ids,
        )

    def reference(self, local_number: int) -> str:
        """The patient's local reference, shown where a name must not be: "P-0042"."""
        return f"{self.reference_prefix}{local_number:04d}"
