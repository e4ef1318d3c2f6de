"""Watch-fed caches of the objects runs read: pods, Deployments, StatefulSets and Services.

One watch per kind and namespace for the whole operator, however many runs read it, instead of
a request per run per poll: target selection, endpoint lookups and ``workloadReady`` read
memory, and only writes go to the API server. Like client-go's informers: list, then watch
from the list's resourceVersion; a watch that ends is resumed, one that breaks or expires (410
Gone) is listed again (the store keeps serving meanwhile).

What makes a cache safe to trust:

- Synced first. A reader waits for the first listing (``ready``), so that no run sees "no
  pods" because the watch had not listed yet; one that does not come within ``sync_timeout``,
  or a watch broken for longer than ``stale_after``, is ``ObservationUnavailable``: the
  coordinator cannot see, which says nothing about the system.
- Read-your-writes. What the platform wrote (a patched Deployment) is stored from the write's
  answer, and a pod it deleted is hidden at once (``deleting``) until the watch shows it
  leaving: a check right after a kill never sees the victim as still there.
- Never backwards. An event older than what is stored (an answer to our own write can overtake
  the watch) is dropped. resourceVersions are compared as numbers where they are numbers (etcd's
  revisions, which Kubernetes 1.34 made comparable by contract); where they are not, events
  apply in the order they come.

Writes that need a fresh read, such as the held-by lock's resourceVersion, do not read here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.core_v1 import Pod, Service

from test_coordinator.errors import ObservationUnavailable

__all__ = ["CacheTiming", "Cached", "ClusterCache", "WatchCache"]

log = logging.getLogger(__name__)

R = TypeVar("R", Pod, Deployment, StatefulSet, Service)
Cached = Pod | Deployment | StatefulSet | Service
"""The kinds runs read."""
_GONE_KEPT = 4096  # deletions remembered against stale events; the newest count


@dataclass(frozen=True)
class CacheTiming:
    sync_timeout: float = 10.0
    """How long a reader waits for a cache's first listing before it is unavailable."""
    stale_after: float = 10.0
    """A watch broken (and not listed again) for longer than this is not trusted."""
    server_timeout: int = 300
    """The API server ends each watch after this long; it is resumed from where it was."""
    first_retry: float = 0.2
    max_retry: float = 10.0
    idle_after: float = 600.0
    """A cache nobody has read for this long stops watching (a namespace no longer tested)."""


class WatchCache(Generic[R]):
    """The objects of one kind in one namespace, as the API server's watch tells them."""

    def __init__(
        self, client: AsyncClient, kind: type[R], namespace: str, *, timing: CacheTiming
    ) -> None:
        self.client = client
        self.kind: type[R] = kind
        self.namespace = namespace
        self.timing = timing
        self.what = f"{kind.__name__}s in namespace {namespace}"
        self.last_used = time.monotonic()
        self._objects: dict[str, R] = {}
        self._by_label: dict[tuple[str, str], set[str]] = {}
        self._leaving: dict[str, str | None] = {}  # deleted by us: name → uid, hidden meanwhile
        self._gone: dict[str, int] = {}  # name → resourceVersion of its deletion
        self._synced = asyncio.Event()
        self._broken_since: float | None = None
        self._problem = ""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"watch {self.what}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # reading

    async def ready(self) -> None:
        """Return once the cache may be trusted; ObservationUnavailable if it may not."""
        self.last_used = time.monotonic()
        if not self._synced.is_set():
            try:
                async with asyncio.timeout(self.timing.sync_timeout):
                    await self._synced.wait()
            except TimeoutError:
                why = self._problem or f"no answer within {self.timing.sync_timeout:g}s"
                raise ObservationUnavailable(f"cannot list {self.what}: {why}") from None
        broken = self._broken_since
        if broken is not None and time.monotonic() - broken > self.timing.stale_after:
            raise ObservationUnavailable(
                f"the watch of {self.what} has been broken for "
                f"{time.monotonic() - broken:.0f}s: {self._problem}"
            )

    def get(self, name: str) -> R | None:
        found = self._objects.get(name)
        return None if found is None or self._hidden(name, found) else found

    def items(self) -> list[R]:
        return [obj for name, obj in self._objects.items() if not self._hidden(name, obj)]

    def matching(self, labels: Mapping[str, str]) -> list[R]:
        """The objects carrying every label of ``labels`` (all of them for none)."""
        if not labels:
            return self.items()
        sets = sorted((self._by_label.get(pair, set()) for pair in labels.items()), key=len)
        names = sets[0].intersection(*sets[1:])
        found = [(name, self._objects[name]) for name in sorted(names)]
        return [obj for name, obj in found if not self._hidden(name, obj)]

    # what the platform wrote

    def wrote(self, obj: R) -> None:
        """Store the answer to a write at once, ahead of the watch's event for it."""
        self._event("MODIFIED", obj)

    def deleting(self, name: str) -> None:
        """The platform deleted ``name``: hide it until the watch shows it leaving or gone."""
        found = self._objects.get(name)
        if found is not None:  # else the watch has not told of it, or has told of its end
            self._leaving[name] = _uid(found.metadata)

    # the watch

    async def _run(self) -> None:
        delay = self.timing.first_retry
        version: str | None = None
        while True:
            try:
                if version is None:
                    version = await self._list()
                    delay = self.timing.first_retry
                async for kind, obj in self.client.watch(
                    self.kind,
                    namespace=self.namespace,
                    resource_version=version,
                    server_timeout=self.timing.server_timeout,
                ):
                    version = _version(obj.metadata) or version
                    self._event(kind, obj)
            except asyncio.CancelledError:
                raise
            except ApiError as error:  # 410 Gone among them: list again
                self._broke(f"{error.status.code} {error.status.reason or ''}".strip())
            except Exception as error:  # a dropped connection, a timeout: list again
                self._broke(str(error) or type(error).__name__)
            version = None
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, self.timing.max_retry)

    async def _list(self) -> str | None:
        listing = self.client.list(self.kind, namespace=self.namespace)
        objects = [obj async for obj in listing]
        self._objects, self._by_label = {}, {}
        self._leaving.clear()
        self._gone.clear()
        for obj in objects:
            self._put(_name(obj.metadata), obj)
        if self._broken_since is not None:
            log.info("watching %s again", self.what)
        self._broken_since, self._problem = None, ""
        self._synced.set()
        return listing.resourceVersion

    def _broke(self, problem: str) -> None:
        if self._broken_since is None:
            self._broken_since = time.monotonic()
            log.info("the watch of %s broke (%s): listing again", self.what, problem)
        self._problem = problem

    def _event(self, kind: str, obj: R) -> None:
        meta = obj.metadata
        name = _name(meta)
        if kind in ("BOOKMARK", "ERROR") or not name or self._stale(name, _version(meta)):
            return
        if kind == "DELETED":
            self._remove(name)
            self._leaving.pop(name, None)
            number = _number(_version(meta))
            if number is not None:
                self._gone[name] = number
                if len(self._gone) > _GONE_KEPT:
                    del self._gone[next(iter(self._gone))]
            return
        self._gone.pop(name, None)
        self._put(name, obj)
        if name in self._leaving and (self._leaving[name] != _uid(meta) or _terminating(meta)):
            del self._leaving[name]  # the watch has caught up with the delete (or a new one)

    def _stale(self, name: str, version: str | None) -> bool:
        number = _number(version)
        if number is None:
            return False
        current = self._objects.get(name)
        known = _number(_version(current.metadata)) if current is not None else None
        if known is not None and number < known:
            return True
        return name in self._gone and number <= self._gone[name]

    def _hidden(self, name: str, obj: R) -> bool:
        return name in self._leaving and self._leaving[name] == _uid(obj.metadata)

    def _put(self, name: str, obj: R) -> None:
        self._remove(name)
        self._objects[name] = obj
        for pair in _labels(obj.metadata).items():
            self._by_label.setdefault(pair, set()).add(name)

    def _remove(self, name: str) -> None:
        old = self._objects.pop(name, None)
        if old is None:
            return
        for pair in _labels(old.metadata).items():
            names = self._by_label.get(pair)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_label[pair]


class ClusterCache:
    """Every ``WatchCache`` of one process, by kind and namespace, each started on first use
    and stopped after ``idle_after`` without a reader."""

    def __init__(self, client: AsyncClient, *, timing: CacheTiming | None = None) -> None:
        self.client = client
        self.timing = timing or CacheTiming()
        self._caches: dict[tuple[type[Any], str], WatchCache[Any]] = {}
        self._swept = time.monotonic()

    def of(self, kind: type[R], namespace: str) -> WatchCache[R]:
        self._sweep()
        key = (kind, namespace)
        cache: WatchCache[R] | None = self._caches.get(key)
        if cache is None:
            cache = WatchCache(self.client, kind, namespace, timing=self.timing)
            cache.start()
            self._caches[key] = cache
        return cache

    def started(self, kind: type[R], namespace: str) -> WatchCache[R] | None:
        """The cache of ``kind`` in ``namespace`` if one watches already (to tell it of a
        write: a write alone is no reason to start watching)."""
        cache: WatchCache[R] | None = self._caches.get((kind, namespace))
        return cache

    def watches(self) -> Iterable[str]:
        return [cache.what for cache in self._caches.values()]

    async def close(self) -> None:
        caches, self._caches = list(self._caches.values()), {}
        await asyncio.gather(*(cache.close() for cache in caches))

    def _sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept < min(60.0, self.timing.idle_after):
            return
        self._swept = now
        for key, cache in list(self._caches.items()):
            if now - cache.last_used > self.timing.idle_after:
                del self._caches[key]
                if cache._task is not None:
                    cache._task.cancel()


def _name(meta: ObjectMeta | None) -> str:
    return (meta.name if meta else None) or ""


def _uid(meta: ObjectMeta | None) -> str | None:
    return meta.uid if meta else None


def _version(meta: ObjectMeta | None) -> str | None:
    return meta.resourceVersion if meta else None


def _labels(meta: ObjectMeta | None) -> dict[str, str]:
    return dict((meta.labels if meta else None) or {})


def _terminating(meta: ObjectMeta | None) -> bool:
    return meta is not None and meta.deletionTimestamp is not None


def _number(version: str | None) -> int | None:
    return int(version) if version is not None and version.isdigit() else None
