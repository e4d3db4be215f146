"""Typed values from the environment, every problem collected (never the first one only), so
that start-up reports them all at once, each by the name of its setting. Used by
`bot.settings`, the one place that reads the environment for configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit


class EnvReader:
    """Collects every problem so start-up reports them all at once, each by name."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.errors: list[str] = []

    def text(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name) or default
        normalised = value.upper() if name == "LOG_LEVEL" else value.lower()
        if normalised not in allowed:
            self.errors.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
            return default
        return normalised

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.errors.append(f"{name} must be a number, got {raw!r}")
            return default
        if value < 0:
            self.errors.append(f"{name} must not be negative, got {raw!r}")
            return default
        return value

    def names(self, name: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
        """A comma-separated list of choices; `none` (or an empty value when set) means ()."""
        if name not in self.env:
            return default
        raw = self.text(name).lower()
        if raw in ("", "none"):
            return ()
        values = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
        unknown = [v for v in values if v not in allowed]
        if unknown:
            self.errors.append(f"{name} must list some of {', '.join(allowed)} (or none), got {raw!r}")
            return default
        return values

    def checked(self, name: str, problem: Callable[[str], str | None]) -> str:
        """A value `problem` (bot.checks) finds nothing wrong with; its messages hide passwords."""
        raw = self.text(name)
        error = problem(raw) if raw else None
        if error:
            self.errors.append(error)
            return ""
        return raw

    def url(self, name: str, schemes: tuple[str, ...]) -> str:
        raw = self.text(name)
        if raw:
            parts = urlsplit(raw)
            if parts.scheme not in schemes or not parts.netloc:
                # The value is not echoed: URLs may carry passwords.
                self.errors.append(f"{name} must be a {'/'.join(schemes)} URL with a host")
                return ""
        return raw

