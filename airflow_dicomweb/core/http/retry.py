"""Retry policy: exponential backoff with jitter, ``Retry-After``, bounded in attempts and time (tenacity).

What is retried: connection errors and timeouts, HTTP 408, 429, 500, 502, 503 and 504, and response bodies
cut short. Other 4xx answers are final. The wait follows Google's advice for its quotas,
``min(initial * 2^n + random jitter, max_wait)``, unless the server sent ``Retry-After``, which is honoured.
"""

from __future__ import annotations

import email.utils
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from airflow_dicomweb.core import defaults

log = logging.getLogger(__name__)
T = TypeVar("T")
_JITTER_PARAMS = inspect.signature(tenacity.wait_exponential_jitter).parameters


def is_retryable(exc: BaseException) -> bool:
    """Whether an error of this package says that trying again may succeed."""
    return bool(getattr(exc, "retryable", False))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try a request again."""

    max_attempts: int = defaults.MAX_RETRIES + 1
    max_elapsed: float = defaults.RETRY_MAX_ELAPSED
    initial_wait: float = defaults.RETRY_INITIAL_WAIT
    max_wait: float = defaults.RETRY_MAX_WAIT
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.max_elapsed, self.initial_wait, self.max_wait, self.jitter) < 0:
            raise ValueError("retry waits and limits must not be negative")

    def _backoff(self) -> tenacity.wait.wait_base:
        # tenacity 9 renamed ``initial`` to ``multiplier``; accept both generations.
        first = "multiplier" if "multiplier" in _JITTER_PARAMS else "initial"
        return tenacity.wait_exponential_jitter(
            **{first: self.initial_wait}, max=self.max_wait, jitter=self.jitter
        )

    def _wait(self, state: tenacity.RetryCallState, backoff: tenacity.wait.wait_base) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return backoff(state)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s; retrying in %.1f s (attempt %d of %d)",
            exc,
            sleep,
            state.attempt_number + 1,
            self.max_attempts,
        )

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, trying again on retryable errors; the last error is raised as it is."""
        backoff = self._backoff()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.max_elapsed),
            wait=lambda state: self._wait(state, backoff),
            retry=tenacity.retry_if_exception(is_retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(fn)
