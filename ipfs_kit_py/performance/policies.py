"""Memory-tier replacement policies behind one small interface.

Every policy maps keys to values, holds at most ``maxsize`` entries and calls
``on_evict(key, value)`` for each entry it drops to make room (explicit
``remove``/``clear`` do not count as evictions). ``lookup`` records an access
and returns the value or ``MISSING``; ``store`` inserts or replaces.

- ``lru``: ``cachetools.LRUCache``.
- ``lfu``: ``cachetools.LFUCache`` behind a small LRU admission window, with
  frequency aging. Plain LFU cannot keep a new entry once the residents have
  been read twice: the newcomer is alone in the count-1 bucket and is the next
  victim, so the cache freezes on its first hot set. The window gives every
  newcomer ``maxsize/10`` insertions to earn hits; leaving the window it
  enters the LFU area if it was used at least as often as the LFU's victim
  (so one-off keys replace each other, not the keys that earned hits); aging
  halves all counts periodically so yesterday's hot keys give way.
- ``w-tinylfu``: W-TinyLFU (Einziger, Friedman & Manes, "TinyLFU: A Highly
  Efficient Cache Admission Policy", ACM ToS 2017) with Caffeine's hill
  climber sizing the window. Written by hand: cachetools has no admission
  policy (it always admits and only chooses a victim), and W-TinyLFU's point
  is to *refuse* a candidate whose recent frequency is not above the victim's,
  which is what makes it scan-resistant and good on loops and skewed traces.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable
from typing import Any

import cachetools

from ..errors import InvalidInput

MISSING: Any = object()

EvictCallback = Callable[[Hashable, Any], None]

POLICIES = ("lru", "lfu", "w-tinylfu")


def make_policy(name: str, maxsize: int, on_evict: EvictCallback):
    """Build the memory policy ``name`` holding at most ``maxsize`` entries."""
    if name not in POLICIES:
        raise InvalidInput(f"unknown memory_policy {name!r}; choose one of {', '.join(POLICIES)}")
    if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
        raise InvalidInput(f"memory_size must be a positive whole number of entries, not {maxsize!r}")
    if name == "lru":
        return LRUPolicy(maxsize, on_evict)
    if name == "lfu":
        return WindowedLFUPolicy(maxsize, on_evict)
    return WTinyLFUPolicy(maxsize, on_evict)


class _EvictingLRU(cachetools.LRUCache):
    """cachetools evicts only through ``popitem``; overriding it is the documented hook."""

    def __init__(self, maxsize: int, on_evict: EvictCallback):
        super().__init__(maxsize)
        self._on_evict = on_evict

    def popitem(self):
        key, value = super().popitem()
        self._on_evict(key, value)
        return key, value


class _EvictingLFU(cachetools.LFUCache):
    def __init__(self, maxsize: int, on_evict: EvictCallback):
        super().__init__(maxsize)
        self._on_evict = on_evict

    def popitem(self):
        key, value = super().popitem()
        self._on_evict(key, value)
        return key, value


def _peek(cache: cachetools.Cache, key: Hashable) -> Any:
    try:
        return cachetools.Cache.__getitem__(cache, key)
    except KeyError:
        return MISSING


class LRUPolicy:
    name = "lru"

    def __init__(self, maxsize: int, on_evict: EvictCallback):
        self.maxsize = maxsize
        self._cache = _EvictingLRU(maxsize, on_evict)

    def lookup(self, key: Hashable) -> Any:
        try:
            return self._cache[key]
        except KeyError:
            return MISSING

    def peek(self, key: Hashable) -> Any:
        """The value without recording an access (cachetools' base getter does not touch)."""
        return _peek(self._cache, key)

    def store(self, key: Hashable, value: Any) -> None:
        self._cache[key] = value

    def remove(self, key: Hashable) -> Any:
        return self._cache.pop(key, MISSING)

    def keys(self) -> list:
        return list(self._cache.keys())

    def clear(self) -> None:
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)


class WindowedLFUPolicy:
    """cachetools LFU main area fed by a cachetools LRU window; counts age by halving."""

    name = "lfu"

    def __init__(self, maxsize: int, on_evict: EvictCallback, *, window_fraction: float = 0.1,
                 aging_factor: int = 10):
        self.maxsize = maxsize
        self._on_evict = on_evict
        window_size = max(1, int(maxsize * window_fraction)) if maxsize > 1 else 1
        self._main_size = maxsize - window_size
        self._window = _EvictingLRU(window_size, self._graduate)
        self._main = _EvictingLFU(self._main_size, self._evicted) if self._main_size else None
        # Our own access counts (cachetools keeps its counts private): carried
        # from the window into the LFU, and halved every ``_aging_period``.
        self._counts: dict[Hashable, int] = {}
        self._aging_period = aging_factor * maxsize
        self._accesses = 0

    def _evicted(self, key: Hashable, value: Any) -> None:
        self._counts.pop(key, None)
        self._on_evict(key, value)

    def _graduate(self, key: Hashable, value: Any) -> None:
        """A window entry competes with the LFU area's victim, carrying the hits it earned.

        It is admitted if it was used at least as often as the victim (ties go
        to the newcomer, i.e. to recency); otherwise the victim stays.
        """
        main = self._main
        if main is None:
            self._evicted(key, value)
            return
        count = self._counts.get(key, 1)
        if len(main) >= self._main_size:
            # cachetools' own choice: lowest count, least recently used among equals
            victim, victim_value = cachetools.LFUCache.popitem(main)
            victim_count = self._counts.get(victim, 1)
            if count < victim_count:
                self._insert_main(victim, victim_value, victim_count)
                self._evicted(key, value)
                return
            self._evicted(victim, victim_value)
        self._insert_main(key, value, count)

    def _insert_main(self, key: Hashable, value: Any, count: int) -> None:
        main = self._main
        main[key] = value
        for _ in range(count - 1):
            main[key]  # each read bumps cachetools' count by one

    def _tick(self) -> None:
        self._accesses += 1
        if self._accesses >= self._aging_period:
            self._age()

    def _age(self) -> None:
        """Halve every count; rebuild the LFU area so cachetools sees the new counts.

        Amortised O(1) per access: the work is the sum of the halved counts,
        which is at most the number of accesses since the previous aging.
        """
        self._accesses = 0
        self._counts = {k: max(1, c // 2) for k, c in self._counts.items()}
        if self._main is None or not len(self._main):
            return
        old = self._main
        fresh = _EvictingLFU(self._main_size, self._evicted)
        for key in sorted(old.keys(), key=lambda k: self._counts.get(k, 1)):
            fresh[key] = old[key]
            for _ in range(self._counts.get(key, 1) - 1):
                fresh[key]
        self._main = fresh

    def lookup(self, key: Hashable) -> Any:
        # Most residents live in the LFU area (90%), so test it first.
        main = self._main
        if main is not None and key in main:
            value = main[key]
        elif key in self._window:
            value = self._window[key]
        else:
            return MISSING
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        self._accesses += 1
        if self._accesses >= self._aging_period:
            self._age()
        return value

    def peek(self, key: Hashable) -> Any:
        value = _peek(self._window, key)
        if value is MISSING and self._main is not None:
            value = _peek(self._main, key)
        return value

    def store(self, key: Hashable, value: Any) -> None:
        if key in self._window:
            self._window[key] = value
            self._counts[key] = self._counts.get(key, 0) + 1
        elif self._main is not None and key in self._main:
            self._main[key] = value  # cachetools counts a write as a use
            self._counts[key] = self._counts.get(key, 0) + 1
        else:
            self._counts[key] = 1
            self._window[key] = value  # may graduate the window's oldest entry
        self._tick()

    def remove(self, key: Hashable) -> Any:
        value = self._window.pop(key, MISSING)
        if value is MISSING and self._main is not None:
            value = self._main.pop(key, MISSING)
        if value is not MISSING:
            self._counts.pop(key, None)
        return value

    def keys(self) -> list:
        keys = list(self._window.keys())
        if self._main is not None:
            keys.extend(self._main.keys())
        return keys

    def clear(self) -> None:
        self._window.clear()
        if self._main is not None:
            self._main.clear()
        self._counts.clear()
        self._accesses = 0

    def __len__(self) -> int:
        return len(self._window) + (len(self._main) if self._main is not None else 0)


# ---- W-TinyLFU -----------------------------------------------------------

# Caffeine's constants (BoundedLocalCache): the window starts at 1% and the
# hill climber moves it in steps of 6.25% of the capacity, decaying by 0.98
# per sample while the hit rate changes by less than 5 points.
_WINDOW_START = 0.01
_PROTECTED_SHARE = 0.80
_STEP_FRACTION = 0.0625
_STEP_DECAY = 0.98
_RESTART_THRESHOLD = 0.05
_MAX_COUNT = 15  # TinyLFU's 4-bit counters: bounded history keeps it adaptive
_WINDOW, _PROBATION, _PROTECTED = 0, 1, 2


class WTinyLFUPolicy:
    """Window LRU -> TinyLFU admission filter -> segmented LRU (probation/protected).

    Frequencies are exact counts in a dict rather than a count-min sketch: the
    sketch exists to save memory in Java; here a dict increment is the cheapest
    operation Python has. Memory stays bounded because aging (every
    ``10 * maxsize`` accesses) halves all counts and drops the zeros, so only
    keys seen in the last two sample periods are remembered.

    One index maps each resident key to a mutable ``[segment, value]`` cell;
    the three segments are OrderedDicts of keys that only keep recency order.
    A hit is one index probe and one ``move_to_end`` whichever segment holds
    the key, and moving a key between segments never rewrites the index.
    """

    name = "w-tinylfu"

    def __init__(self, maxsize: int, on_evict: EvictCallback, *, adaptive: bool = True):
        self.maxsize = maxsize
        self._on_evict = on_evict
        self._entries: dict[Hashable, list] = {}
        self._window: OrderedDict = OrderedDict()
        self._probation: OrderedDict = OrderedDict()
        self._protected: OrderedDict = OrderedDict()
        self._segments = (self._window, self._probation, self._protected)
        self._freq: defaultdict[Hashable, int] = defaultdict(int)
        self._sample_size = 10 * maxsize
        self._samples = 0  # lookups + stores in this sample period
        self._stores = 0
        self._misses = 0
        self._window_target = max(1.0, maxsize * _WINDOW_START) if maxsize > 1 else 1.0
        self._resize()
        # hill climber state
        self._adaptive = adaptive and maxsize > 2
        self._previous_hit_rate = 0.0
        self._step = _STEP_FRACTION * maxsize

    # ---- sizing ----------------------------------------------------------
    def _resize(self) -> None:
        self._window_cap = min(self.maxsize, max(1, int(round(self._window_target))))
        self._main_cap = self.maxsize - self._window_cap
        self._protected_cap = int(self._main_cap * _PROTECTED_SHARE)

    @property
    def window_capacity(self) -> int:
        return self._window_cap

    # ---- frequency ---------------------------------------------------------
    def _end_sample(self) -> None:
        """Every ``10 * maxsize`` accesses: age the counts, let the climber resize the window.

        Counts may pass 15 within a sample; aging caps them at 15 (TinyLFU's
        4-bit counters) before halving, so one hot period cannot pin a key
        for long. Capping here keeps the per-access path to one dict update.
        """
        aged = defaultdict(int)
        aged.update((k, min(c, _MAX_COUNT) >> 1) for k, c in self._freq.items() if c > 1)
        self._freq = aged
        if self._adaptive:
            self._climb()
        self._samples = self._stores = self._misses = 0

    def frequency(self, key: Hashable) -> int:
        return self._freq.get(key, 0)

    # ---- hill climber ------------------------------------------------------
    def _climb(self) -> None:
        # Hits are not counted on the hit path: lookups = samples - stores.
        requests = self._samples - self._stores
        if not requests:
            return
        hit_rate = (requests - self._misses) / requests
        change = hit_rate - self._previous_hit_rate
        amount = self._step if change >= 0 else -self._step
        if abs(change) >= _RESTART_THRESHOLD:
            self._step = _STEP_FRACTION * self.maxsize * (1 if amount >= 0 else -1)
        else:
            self._step = _STEP_DECAY * amount
        self._previous_hit_rate = hit_rate
        self._move_window(amount)

    def _move(self, key: Hashable, source: OrderedDict, target: int, *, cold_end: bool = False) -> None:
        del source[key]
        segment = self._segments[target]
        segment[key] = None
        if cold_end:
            segment.move_to_end(key, last=False)
        self._entries[key][0] = target

    def _move_window(self, amount: float) -> None:
        """Grow or shrink the window by ``amount`` entries, keeping the total size."""
        upper = self.maxsize - 1  # the main area keeps at least one entry
        self._window_target = min(float(upper), max(1.0, self._window_target + amount))
        self._resize()
        # Shrinking: the window's oldest entries move to probation unfiltered.
        while len(self._window) > self._window_cap:
            self._move(next(iter(self._window)), self._window, _PROBATION)
        # Growing: main's coldest entries move to the window's cold end.
        while len(self._probation) + len(self._protected) > self._main_cap:
            source = self._probation if self._probation else self._protected
            self._move(next(iter(source)), source, _WINDOW, cold_end=True)
        self._demote_protected()

    def _demote_protected(self) -> None:
        protected = self._protected
        while len(protected) > self._protected_cap:
            self._move(next(iter(protected)), protected, _PROBATION)

    # ---- interface -----------------------------------------------------------
    def lookup(self, key: Hashable) -> Any:
        # The hit path of the default block cache: keep it to a few dict operations.
        self._freq[key] += 1
        self._samples += 1
        if self._samples >= self._sample_size:
            self._end_sample()
        cell = self._entries.get(key)
        if cell is None:
            self._misses += 1
            return MISSING
        segment = cell[0]
        if segment != _PROBATION:
            self._segments[segment].move_to_end(key)
        else:  # a hit on probation: promote to protected, demoting its coldest entry (inlined)
            protected = self._protected
            del self._probation[key]
            protected[key] = None
            cell[0] = _PROTECTED
            if len(protected) > self._protected_cap:
                demoted, _ = protected.popitem(last=False)
                self._probation[demoted] = None
                self._entries[demoted][0] = _PROBATION
        return cell[1]

    def peek(self, key: Hashable) -> Any:
        cell = self._entries.get(key)
        return MISSING if cell is None else cell[1]

    def store(self, key: Hashable, value: Any) -> None:
        self._freq[key] += 1
        self._samples += 1
        self._stores += 1
        if self._samples >= self._sample_size:
            self._end_sample()
        cell = self._entries.get(key)
        if cell is not None:
            cell[1] = value
            self._segments[cell[0]].move_to_end(key)
            return
        self._entries[key] = [_WINDOW, value]
        self._window[key] = None
        while len(self._window) > self._window_cap:
            candidate, _ = self._window.popitem(last=False)
            self._admit(candidate)

    def _admit(self, candidate: Hashable) -> None:
        """TinyLFU: the window's evictee enters main only if it is more frequent than main's victim."""
        if len(self._probation) + len(self._protected) < self._main_cap:
            self._probation[candidate] = None
            self._entries[candidate][0] = _PROBATION
            return
        if not self._main_cap:
            self._evict(candidate)
            return
        segment = self._probation if self._probation else self._protected
        victim = next(iter(segment))
        if self._freq.get(candidate, 0) > self._freq.get(victim, 0):
            del segment[victim]
            self._evict(victim)
            self._probation[candidate] = None
            self._entries[candidate][0] = _PROBATION
        else:
            self._evict(candidate)

    def _evict(self, key: Hashable) -> None:
        """``key`` is already out of its segment; drop its cell and report it."""
        _, value = self._entries.pop(key)
        self._on_evict(key, value)

    def remove(self, key: Hashable) -> Any:
        cell = self._entries.pop(key, None)
        if cell is None:
            return MISSING
        del self._segments[cell[0]][key]
        return cell[1]

    def keys(self) -> list:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        for segment in self._segments:
            segment.clear()
        self._freq.clear()
        self._samples = self._stores = self._misses = 0

    def __len__(self) -> int:
        return len(self._entries)
