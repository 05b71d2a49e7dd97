"""The objects every request of an app shares, opened once at start-up (two apps in one
process share none of them)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from opentelemetry.trace import TracerProvider
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_session_factory
from db.migrations import migrations_pending
from services.accounts.auth import AuthConfig
from services.accounts.rate_limits import LoginRateLimiter, SignupRateLimiter
from services.accounts.sessions import DecodedAccessTokens, SessionStates
from services.accounts.tokens import TokenCodec
from services.events.bus import EventBus
from services.events.handlers import event_handlers
from services.execution.catalog import Catalog
from services.execution.components import CATALOG
from services.execution.providers.registry import ProviderRegistry
from services.platform.health import DatabaseProbe
from services.platform.media import MediaDirectory
from services.platform.metrics import MeasuredProviderRegistry, Metrics
from services.platform.settings import Settings
from services.platform.telemetry import RunSpans
from services.runs.cancelling import RunCanceller
from services.runs.cluster import Cluster, ClusterCallbacks
from services.runs.endings import RunEndings, mark_interrupted_runs
from services.runs.launcher import RunLauncher
from services.runs.live import LiveRuns
from services.runs.log.follow import RunLogs
from services.runs.log.journal import RunJournal
from services.runs.log.storage import SqlRunLogStorage
from services.runs.log.streams import READ_CONNECTIONS, RunStreams
from services.runs.log.tail import LiveTails
from services.runs.manager import RunManager
from services.runs.queue import RunQueue
from services.runs.worker import RunWorker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
    auth: AuthConfig
    # The code's catalog (services/execution/components.py), the same in every process.
    catalog: Catalog
    providers: ProviderRegistry
    runs: RunManager
    run_canceller: RunCanceller
    # What its app's /metrics serves and its runs' spans: this backend's own, not the process's.
    metrics: Metrics
    run_spans: RunSpans
    # Distributed mode only (REDIS_URL): this process among the others, the run queue, and
    # what executes the queued runs this process claims.
    cluster: Cluster | None = None
    queue: RunQueue | None = None
    run_worker: RunWorker | None = None
    database_probe: DatabaseProbe = field(default_factory=DatabaseProbe)

    async def prepare_to_serve(self, *, execute_runs: bool = True) -> None:
        """For a server or worker starting up: runs a previous process left running are over,
        and the provider clients are built before the first request needs one. Distributed
        mode: joins the cluster, and claims queued runs unless `execute_runs` is off (an API
        process only)."""
        self.providers.prepare()
        if self.cluster is not None:
            assert self.queue is not None and self.run_worker is not None
            # Other processes' runs go on: those of dead workers are taken over by the queue.
            canceller = self.run_canceller
            await self.cluster.start(
                ClusterCallbacks(cancel=canceller.cancel_here, deliver=self.bus.notifications.deliver, sweep=canceller.sweep)
            )
            await self.queue.open()
            if execute_runs:
                self.queue.start_worker(self.run_worker)
            return
        if await migrations_pending(self.engine):
            # The record's tables are not this code's yet: ready once `migrate` has run
            # (/health/ready says so); the interrupted runs wait for the next start.
            logger.warning("database migrations pending: runs left running are ended after `main.py migrate`")
            return
        async with self.session_factory() as session:
            interrupted = await mark_interrupted_runs(session)
            await session.commit()
        if interrupted:
            logger.warning("runs left running by a stopped server marked interrupted", extra={"count": len(interrupted)})

    async def close(self) -> None:
        # Runs still going are cancelled at once: the grace period is given before, by `serve`
        # draining on SIGTERM (web.serving), not by every stop (Ctrl-C must be quick).
        if self.queue is not None:
            await self.queue.stop_worker()
        await self.runs.close()
        if self.queue is not None:
            await self.queue.close()
        if self.cluster is not None:
            await self.cluster.close()
            await self.cluster.redis.aclose()
        await self.providers.aclose()
        await self.engine.dispose()


async def open_backend(
    settings: Settings,
    engine: AsyncEngine,
    *,
    metrics: Metrics | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Backend:
    """`metrics`: where its operations, runs and provider calls are counted (by default its
    own); `tracer_provider`: where its runs' spans go (by default none)."""
    metrics = metrics or Metrics()
    run_spans = RunSpans(tracer_provider)
    session_factory = create_session_factory(engine)
    cluster = _cluster(settings)
    queue = _queue(settings)
    bus = EventBus(event_handlers(), sharing=cluster)
    providers = MeasuredProviderRegistry(settings.providers, metrics=metrics, concurrency=settings.provider_concurrency)
    runs, canceller, worker = _runs(settings, session_factory, bus, providers, metrics, run_spans, cluster, queue)
    tokens = TokenCodec(settings.auth_secret_key)
    return Backend(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        bus=bus,
        auth=AuthConfig(
            tokens=tokens,
            bcrypt_rounds=settings.bcrypt_rounds,
            login_limiter=LoginRateLimiter(
                attempts=settings.limits.login_attempts,
                window_seconds=settings.limits.login_window_seconds,
            ),
            signup_limiter=SignupRateLimiter(per_hour=settings.limits.signups_per_address_per_hour),
            sessions=SessionStates(max_age_seconds=settings.limits.session_check_seconds),
            access_tokens=DecodedAccessTokens(tokens, max_age_seconds=settings.limits.session_check_seconds),
        ),
        catalog=CATALOG,
        providers=providers,
        runs=runs,
        metrics=metrics,
        run_spans=run_spans,
        run_canceller=canceller,
        cluster=cluster,
        queue=queue,
        run_worker=worker,
    )


def _runs(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    providers: ProviderRegistry,
    metrics: Metrics,
    spans: RunSpans,
    cluster: Cluster | None,
    queue: RunQueue | None,
) -> tuple[RunManager, RunCanceller, RunWorker | None]:
    """The run service's roles, sharing one journal, one set of live runs and one set of logs
    (ARCHITECTURE.md, "The run path")."""
    streams = _streams(settings, cluster)
    limits = settings.limits
    tails = LiveTails()
    journal = RunJournal(
        SqlRunLogStorage(session_factory),
        bus,
        tails,
        metrics=metrics,
        spans=spans,
        streams=streams,
        storage_timeout=limits.run_storage_timeout_seconds,
    )
    live_runs = LiveRuns()
    logs = RunLogs(session_factory, tails, metrics, streams)
    endings = RunEndings(session_factory, streams)
    launcher = RunLauncher(
        journal=journal,
        live_runs=live_runs,
        session_factory=session_factory,
        catalog=CATALOG,
        providers=providers,
        media=MediaDirectory(settings.media_dir),
        limits=limits.graph_limits,
        metrics=metrics,
        delta_window=settings.delta_window_ms / 1000,
    )
    canceller = RunCanceller(
        session_factory=session_factory, live_runs=live_runs, logs=logs, endings=endings, cluster=cluster
    )
    runs = RunManager(
        session_factory=session_factory,
        journal=journal,
        live_runs=live_runs,
        launcher=launcher,
        logs=logs,
        canceller=canceller,
        endings=endings,
        limits=limits.graph_limits,
        max_runs_per_user=limits.max_runs_per_user,
        streams=streams,
        queue=queue,
    )
    worker = None
    if queue is not None:
        assert cluster is not None  # both come with REDIS_URL
        worker = RunWorker(
            session_factory=session_factory,
            launcher=launcher,
            endings=endings,
            limits=limits.graph_limits,
            worker_id=cluster.worker_id,
        )
    return runs, canceller, worker


def _cluster(settings: Settings) -> Cluster | None:
    if settings.redis_url is None:
        return None
    return Cluster(Redis.from_url(settings.redis_url), settings.redis_prefix)


def _streams(settings: Settings, cluster: Cluster | None) -> RunStreams | None:
    if cluster is None or settings.redis_url is None:
        return None
    reader = Redis.from_url(settings.redis_url, max_connections=READ_CONNECTIONS)
    return RunStreams(cluster.redis, cluster.prefix, reader=reader)


def _queue(settings: Settings) -> RunQueue | None:
    if not settings.distributed:
        return None
    return RunQueue(
        settings.database_url,
        dead_after_seconds=settings.limits.worker_dead_after_seconds,
        stalled_check_seconds=settings.limits.stalled_run_check_seconds,
        resume_stalled=settings.stalled_runs == "resume",
        concurrency=settings.limits.worker_concurrency,
    )
