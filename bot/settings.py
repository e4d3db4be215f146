"""One settings object, read from the environment once at start-up and validated.

Nothing else in the project reads `os.environ` for configuration: the app factory, the Celery
app and the CLI each call `Settings.from_env()` when they start, and a missing or invalid
setting stops start-up with a `SettingsError` naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.checks import broker_url_problem, database_url_problem
from bot.env_reader import EnvReader
from bot.errors import SettingsError
from bot.helpdesk_settings import IntercomSettings, ZendeskSettings, helpdesk_problems
from bot.logs import LOG_FORMATS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# HELPDESK: "" (or "auto"): the helpdesks whose settings are set; "sample": the demo's file.
HELPDESK_MODES = ("auto", "sample")
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", re.IGNORECASE)
LLM_PROVIDERS = ("offline", "openai", "hybrid")
HYBRID_DRAFT_MODES = ("llm", "local")
DEFAULT_MODEL_DIR = PROJECT_ROOT / "bot" / "triage" / "default_model"
KB_SOURCE_NAMES = ("zendesk", "intercom")
KB_RANKINGS = ("bm25", "hybrid")


def _default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'bot.sqlite'}"


def _default_broker_url() -> str:
    # Celery's SQLAlchemy transport on a SQLite file: nothing else to install or start.
    return f"sqla+sqlite:///{INSTANCE_DIR / 'broker.sqlite'}"


@dataclass(frozen=True)
class Settings:
    helpdesk: str = "auto"  # "sample": the demo's helpdesks, read from SAMPLE_HELPDESK_FILE
    zendesk: ZendeskSettings = ZendeskSettings()
    intercom: IntercomSettings = IntercomSettings()
    webhook_max_skew: int = 300  # seconds a signature timestamp may be off
    sample_helpdesk_file: str = ""  # for HELPDESK=sample (the demo)
    database_url: str = field(default_factory=_default_database_url)
    redis_url: str = ""
    broker_url_override: str = ""  # BROKER_URL: any Celery broker URL, wins over REDIS_URL
    task_max_retries: int = 5
    task_retry_base: float = 10.0  # seconds; doubled each retry, with jitter
    task_retry_max: float = 600.0
    # Recovery (bot.recovery): the store is the source of truth, the broker only a doorbell.
    task_time_limit: float = 120.0  # seconds one attempt at a run may take (checked between steps)
    run_deadline: float = 900.0  # seconds from acceptance: later, an unfinished run fails visibly
    sweep_interval: float = 60.0  # seconds between sweeps for stuck runs (celery beat)
    recovery_after: float = 120.0  # seconds a waiting run may go unclaimed before it is re-enqueued
    recovery_tries: int = 5  # re-enqueues by the sweep before a stuck run fails visibly
    llm_provider: str = "offline"
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""
    llm_model: str = ""
    llm_timeout: float = 30.0
    policy_file: str = str(PROJECT_ROOT / "config" / "policy.yaml")
    prompts_dir: str = str(PROJECT_ROOT / "config" / "prompts")
    offline_config: str = str(PROJECT_ROOT / "config" / "offline.yaml")
    local_model_dir: str = str(DEFAULT_MODEL_DIR)  # the trained triage model (bot.triage)
    hybrid_confidence_bar: float = 0.85  # hybrid: the local model decides at or above this
    hybrid_drafts: str = "llm"  # hybrid: "llm" drafts every ticket, "local" only the hard ones
    llm_prices_file: str = str(PROJECT_ROOT / "config" / "llm_prices.yaml")
    kb_sources: tuple[str, ...] = ()  # help centers `kb sync` pulls from
    kb_locales: tuple[str, ...] = ()  # only articles in these locales; () = every locale
    kb_sync_interval: int = 3600  # seconds between scheduled syncs (celery beat); 0 = never
    kb_ranking: str = "hybrid"  # BM25 fused with sentence embeddings (NumPy MiniLM); or "bm25"
    kb_embedding_model: str = ""  # a sentence-transformers model folder; "" = packaged MiniLM
    reply_merge_window: float = 10.0  # seconds a customer's reply waits for more before its run
    # Seconds between reads of a followed ticket when no event says it changed (`bot.tracking`):
    # how late a missed webhook can make tracking, at most.
    track_recheck: float = 1800.0
    log_level: str = "INFO"
    log_format: str = "text"  # "json": one JSON object per line, with stable event names (bot.logs)
    # Where the helpdesks reach this deployment (https://bot.example.com): `setup` registers
    # its webhook URLs and `doctor` checks it answers. Not needed to run.
    public_url: str = ""
    web_host: str = "0.0.0.0"  # `python -m bot serve`: where the web process listens
    port: int = 8000
    web_threads: int = 8  # requests handled at once (complete requests only: see bot.serve)
    web_idle_timeout: int = 30  # seconds before a connection that sends nothing is closed

    @property
    def broker_url(self) -> str:
        return self.broker_url_override or self.redis_url or _default_broker_url()

    @property
    def step_timeout(self) -> float:
        """The longest one request of a run may take: what an attempt can overrun its limit by."""
        return max(self.zendesk.timeout, self.llm_timeout, self.intercom.timeout)

    @property
    def lease_seconds(self) -> float:
        """How long a claimed run is held: the attempt's limit plus one request that started just
        before it. A worker that dies is noticed when its lease ends."""
        return self.task_time_limit + self.step_timeout

    @property
    def visibility_timeout(self) -> float:
        """Redis transport: how long a message a worker took waits before it is delivered again.
        Longer than any task and any countdown the broker holds (both at most one lease)."""
        return 2 * self.lease_seconds

    @property
    def recovery_bound_seconds(self) -> float:
        """Every accepted ticket has its note, or `ai_failed` and a failure note, this long after
        it arrived, whatever process crashed (with the database, broker and helpdesk reachable):
        a run unfinished at its deadline loses its lease one request later and the next sweep
        fails it."""
        return self.run_deadline + self.step_timeout + self.sweep_interval

    @property
    def helpdesks(self) -> tuple[str, ...]:
        """The helpdesks this deployment serves: those whose settings are set (both at once is
        fine), or, for the demo, the sample file's."""
        if self.helpdesk == "sample":
            return ("zendesk", "intercom")
        return tuple(
            name
            for name, group in (("zendesk", self.zendesk), ("intercom", self.intercom))
            if group.configured
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, services: bool = True) -> Settings:
        """`services=False` is for local tools (`db upgrade`, `kb import`, `kb eval`...): the
        credentials of the helpdesk, the help centers and the LLM are then not required."""
        env = os.environ if environ is None else environ
        reader = EnvReader(env)
        defaults = cls()
        zendesk = ZendeskSettings.from_reader(reader)
        intercom = IntercomSettings.from_reader(reader)
        settings = cls(
            helpdesk=reader.choice("HELPDESK", HELPDESK_MODES, defaults.helpdesk),
            zendesk=zendesk,
            intercom=intercom,
            webhook_max_skew=int(reader.number("WEBHOOK_MAX_SKEW", defaults.webhook_max_skew)),
            sample_helpdesk_file=reader.text("SAMPLE_HELPDESK_FILE")
            or str(PROJECT_ROOT / "bot" / "demo" / "sample_helpdesk.json"),
            database_url=reader.checked("DATABASE_URL", database_url_problem)
            or defaults.database_url,
            redis_url=reader.url("REDIS_URL", schemes=("redis", "rediss")),
            broker_url_override=reader.checked("BROKER_URL", broker_url_problem),
            task_max_retries=int(reader.number("TASK_MAX_RETRIES", defaults.task_max_retries)),
            task_retry_base=reader.number("TASK_RETRY_BASE", defaults.task_retry_base),
            task_retry_max=reader.number("TASK_RETRY_MAX", defaults.task_retry_max),
            task_time_limit=reader.number("TASK_TIME_LIMIT", defaults.task_time_limit),
            run_deadline=reader.number("RUN_DEADLINE", defaults.run_deadline),
            sweep_interval=reader.number("SWEEP_INTERVAL", defaults.sweep_interval),
            recovery_after=reader.number("RECOVERY_AFTER", defaults.recovery_after),
            recovery_tries=int(reader.number("RECOVERY_TRIES", defaults.recovery_tries)),
            llm_provider=reader.choice("LLM_PROVIDER", LLM_PROVIDERS, defaults.llm_provider),
            openai_api_key=reader.text("OPENAI_API_KEY"),
            openai_base_url=reader.url("OPENAI_BASE_URL", schemes=("http", "https")),
            llm_model=reader.text("LLM_MODEL"),
            llm_timeout=reader.number("LLM_TIMEOUT", defaults.llm_timeout),
            policy_file=reader.text("POLICY_FILE") or defaults.policy_file,
            prompts_dir=reader.text("PROMPTS_DIR") or defaults.prompts_dir,
            offline_config=reader.text("OFFLINE_ENGINE_FILE") or defaults.offline_config,
            local_model_dir=reader.text("LOCAL_MODEL_DIR") or defaults.local_model_dir,
            hybrid_confidence_bar=reader.number(
                "HYBRID_CONFIDENCE_BAR", defaults.hybrid_confidence_bar
            ),
            hybrid_drafts=reader.choice("HYBRID_DRAFTS", HYBRID_DRAFT_MODES, defaults.hybrid_drafts),
            llm_prices_file=reader.text("LLM_PRICES_FILE") or defaults.llm_prices_file,
            kb_sources=reader.names(
                "KB_SOURCES",
                KB_SOURCE_NAMES,
                # A deployment grounds on its helpdesks' own help centers unless told otherwise.
                tuple(
                    name
                    for name, group in (("zendesk", zendesk), ("intercom", intercom))
                    if group.configured and reader.text("HELPDESK").lower() != "sample"
                ),
            ),
            kb_locales=tuple(
                loc.strip().lower() for loc in reader.text("KB_LOCALES").split(",") if loc.strip()
            ),
            kb_sync_interval=int(reader.number("KB_SYNC_INTERVAL", defaults.kb_sync_interval)),
            kb_ranking=reader.choice("KB_RANKING", KB_RANKINGS, defaults.kb_ranking),
            kb_embedding_model=reader.text("KB_EMBEDDING_MODEL"),
            reply_merge_window=reader.number("REPLY_MERGE_WINDOW", defaults.reply_merge_window),
            track_recheck=reader.number("TRACK_RECHECK", defaults.track_recheck),
            log_level=reader.choice(
                "LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), defaults.log_level
            ),
            log_format=reader.choice("LOG_FORMAT", LOG_FORMATS, defaults.log_format),
            public_url=reader.url("PUBLIC_URL", schemes=("http", "https")).rstrip("/"),
            web_host=reader.text("WEB_HOST") or defaults.web_host,
            port=int(reader.number("PORT", defaults.port)),
            web_threads=int(reader.number("WEB_THREADS", defaults.web_threads)),
            web_idle_timeout=int(reader.number("WEB_IDLE_TIMEOUT", defaults.web_idle_timeout)),
        )
        problems = reader.errors + settings.problems(services)
        if problems:
            raise settings_error(problems)
        return settings

    def problems(self, services: bool = True) -> list[str]:
        problems: list[str] = self._service_problems() if services else []
        for name, path in (
            ("POLICY_FILE", self.policy_file),
            ("OFFLINE_ENGINE_FILE", self.offline_config),
            ("LLM_PRICES_FILE", self.llm_prices_file),
        ):
            if not Path(path).is_file():
                problems.append(f"{name}: no such file {path}")
        if not 0 <= self.hybrid_confidence_bar <= 1:
            problems.append("HYBRID_CONFIDENCE_BAR must be between 0 and 1")
        if not Path(self.prompts_dir).is_dir():
            problems.append(f"PROMPTS_DIR: no such directory {self.prompts_dir}")
        if self.zendesk.subdomain and not _SUBDOMAIN.fullmatch(self.zendesk.subdomain):
            problems.append(
                "ZENDESK_SUBDOMAIN must be the subdomain alone (acme for acme.zendesk.com)"
            )
        for name, value in (
            ("ZENDESK_TIMEOUT", self.zendesk.timeout),
            ("LLM_TIMEOUT", self.llm_timeout),
            ("INTERCOM_TIMEOUT", self.intercom.timeout),
            ("TASK_TIME_LIMIT", self.task_time_limit),
            ("SWEEP_INTERVAL", self.sweep_interval),
            ("RECOVERY_AFTER", self.recovery_after),
            ("TRACK_RECHECK", self.track_recheck),
            ("WEB_THREADS", self.web_threads),
            ("WEB_IDLE_TIMEOUT", self.web_idle_timeout),
        ):
            if value <= 0:
                problems.append(f"{name} must be more than 0 seconds")
        if self.reply_merge_window < 0 or self.reply_merge_window > 300:
            problems.append("REPLY_MERGE_WINDOW must be between 0 and 300 seconds")
        if self.run_deadline < 2 * self.lease_seconds:
            problems.append(
                f"RUN_DEADLINE ({self.run_deadline:g} s) must leave room for two attempts: at least "
                f"{2 * self.lease_seconds:g} s (TASK_TIME_LIMIT plus the longest request timeout, twice)"
            )
        return problems

    def _service_problems(self) -> list[str]:
        """Credentials and files needed to talk to the helpdesks, the help centers and the LLM."""
        problems: list[str] = []
        if self.helpdesk == "sample":
            if not Path(self.sample_helpdesk_file).is_file():
                problems.append(f"SAMPLE_HELPDESK_FILE: no such file {self.sample_helpdesk_file}")
        elif not self.helpdesks:
            problems.append(
                "no helpdesk is configured: set the ZENDESK_* settings, the INTERCOM_* settings, "
                "or both (README, Settings); HELPDESK=sample runs the demo's"
            )
        problems += helpdesk_problems(self.zendesk, self.intercom, self.kb_sources,
                                      sample=self.helpdesk == "sample")
        if self.llm_provider in ("offline", "hybrid") and not (
            Path(self.local_model_dir) / "model.json"
        ).is_file():
            problems.append(
                f"LOCAL_MODEL_DIR: no trained model in {self.local_model_dir} (no model.json); "
                "train one with `python -m bot train`"
            )
        if self.llm_provider in ("openai", "hybrid") and not self.openai_api_key:
            problems.append(
                f"OPENAI_API_KEY is not set (required when LLM_PROVIDER={self.llm_provider})"
            )
        return problems


def settings_error(problems: list[str]) -> SettingsError:
    """One problem per line, under a heading: how every process shows bad settings."""
    return SettingsError("\n".join(["invalid settings:", *(f"  - {p}" for p in problems)]))
