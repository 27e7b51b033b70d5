"""The policy engine: rules named in ``LIVECLASS_BOOKING["POLICY_RULES"]`` judge a BookingRequest."""

from .engine import BookingRequest, Decision, Rule, Violation, evaluate

__all__ = ["BookingRequest", "Decision", "Rule", "Violation", "evaluate"]
