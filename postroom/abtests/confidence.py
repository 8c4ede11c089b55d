"""How sure an A/B test can be that one variant's rate beats another's: pure arithmetic.

Two-proportion z-test with the pooled rate, two-sided: confidence = 1 - p = erf(|z| / sqrt 2);
chosen over an exact or Bayesian method because its normal approximation is good once each
group has 10 people who did and 10 who did not (the rule below), and it needs only math.erf.
No Django, no database: services.py feeds it counts.
"""

import math
from dataclasses import dataclass

# The normal approximation's usual condition (successes and failures in each group):
# below it the figure would claim more than the counts can say.
MIN_EACH = 10
# From this confidence on a lead is called likely real rather than possibly chance.
CONFIDENT = 0.95


def z_score(x1: int, n1: int, x2: int, n2: int) -> float:
    """z of rate x1/n1 against x2/n2, with the pooled rate's standard error (0 if none)."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pooled = (x1 + x2) / (n1 + n2)
    error = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (x1 / n1 - x2 / n2) / error if error else 0.0


def two_sided(z: float) -> float:
    """1 - the two-sided p-value of z: the chance the difference is not noise."""
    return math.erf(abs(z) / math.sqrt(2))


def enough(x: int, n: int) -> bool:
    return x >= MIN_EACH and n - x >= MIN_EACH


@dataclass(frozen=True)
class Comparison:
    """One variant against the leader, by the rate the test's winner is chosen by."""

    leader: str
    other: str
    points: float  # the leader's rate minus the other's, in percentage points (>= 0)
    confidence: float | None  # None: too early to tell

    @property
    def too_early(self) -> bool:
        return self.confidence is None

    @property
    def confident(self) -> bool:
        return self.confidence is not None and self.confidence >= CONFIDENT

    @property
    def percent(self) -> int:
        """Whole percent, rounded down and at most 99: a sample never makes anything certain."""
        return min(99, math.floor((self.confidence or 0.0) * 100))

    def summary(self) -> str:
        """The figure in plain English, as the CLI and the API give it."""
        if self.too_early:
            if not self.points:
                return f"{self.leader} and {self.other} are level so far; too early to tell"
            return (
                f"{self.leader} leads {self.other} by {self.points:.1f} points; too early to tell"
            )
        if not self.points:
            return f"{self.leader} and {self.other} are level"
        doubt = "" if self.confident else " (could be chance)"
        return (
            f"{self.leader} leads {self.other} by {self.points:.1f} points;"
            f" {self.percent} % confidence{doubt}"
        )


def compare(leader: str, x1: int, n1: int, other: str, x2: int, n2: int) -> Comparison:
    """The leader (x1 of n1 did) against another variant (x2 of n2 did)."""
    points = (x1 / n1 if n1 else 0.0) - (x2 / n2 if n2 else 0.0)
    sure = two_sided(z_score(x1, n1, x2, n2)) if enough(x1, n1) and enough(x2, n2) else None
    return Comparison(leader, other, round(points * 100, 1) + 0.0, sure)
