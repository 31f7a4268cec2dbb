"""Scenario files: the pydantic schema, YAML loading and dotted-path overrides.

A scenario is everything a team lead can change: the portfolio and how payers behave, the dunning
cadence, the team, the work's handling times, the prioritisation strategy. Unknown keys are
rejected. Every value can be overridden by a dotted path (``team.collectors=8``,
``portfolio.segments.smb.share=0.5``) through :func:`apply_overrides` — the one mechanism used by the
CLI, sweeps, papermill parameters and dashboard widgets.

Units: days are calendar days unless named ``business_days``; handling times are minutes; rates named
``*_rate`` or ``*_share`` are probabilities in [0, 1]; money is in the ledger currency.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]

STRATEGIES = ("oldest_first", "largest_balance", "risk_weighted", "broken_promises_first", "scored_rules")
DISPUTE_REASONS = ("pricing", "quantity", "billing_error", "contract", "duplicate", "service")


class Strict(BaseModel):
    """Base for every section: unknown keys are an error, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _shares_sum_to_one(shares: dict[str, float], what: str) -> dict[str, float]:
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{what} must sum to 1, got {total:g}")
    return shares


class Amounts(Strict):
    """Invoice amounts: lognormal with the given median and log-scale sigma, floored at ``minimum``."""

    median: Positive = 2_000.0
    sigma: NonNegative = 0.9
    minimum: NonNegative = 10.0


class Effect(Strict):
    """A collection action's effect on the payer: the hazard is multiplied by ``multiplier`` on every
    day within ``window_days`` calendar days after the action (from the next day; 1 = no effect)."""

    multiplier: Positive = 1.0
    window_days: Annotated[int, Field(ge=1)] = 7


class Effects(Strict):
    """Hazard multipliers of recent actions (docs/model.md §2.2 gives the sources of the defaults)."""

    #: per dunning level 1..n (1 = the first step of the cadence, a pre-due reminder included); the
    #: last entry serves every higher level
    notice: list[Effect] = Field(
        default_factory=lambda: [Effect(multiplier=1.3, window_days=7), Effect(multiplier=1.5, window_days=10),
                                 Effect(multiplier=1.8, window_days=10), Effect(multiplier=2.0, window_days=10)],
        min_length=1)
    contact: Effect = Effect(multiplier=2.5, window_days=7)  # a right-party contact with the account
    promise: Effect = Effect(multiplier=8.0, window_days=3)  # the promised date is within [date, date + window)
    fee: Effect = Effect(multiplier=1.0, window_days=10)  # a fee was added (no fee mechanism yet)
    agency: Effect = Effect(multiplier=1.0, window_days=30)  # reserved: the agency has its own recovery


class Hazard(Strict):
    """Payer behaviour as a discrete-time hazard on business days (docs/model.md §2.2).

    On business day t an open, unblocked item of account a pays with probability 1 − exp(−H), with
    H = daily[band(days past due)] · z_a · ∏ multiplier_k^(action k recent). ``bands`` are the left
    edges (days past due) of the bands of ``daily``; before the first edge the first band applies and
    the last band is open-ended. z_a is the account's frailty: Gamma(mean 1, ``frailty_variance``), or
    ``silent_frailty`` for the segment's ``silent_share`` of accounts; items disputed on receipt have
    their frailty multiplied by ``disputed_multiplier``.
    """

    bands: list[int] = Field(default_factory=lambda: [-30, -7, 0, 1, 8, 15, 31, 61, 91], min_length=1)
    daily: list[Positive] = Field(default_factory=lambda: [0.004, 0.06, 0.5, 0.12, 0.1, 0.08, 0.05, 0.03, 0.02],
                                  min_length=1)
    frailty_variance: NonNegative = 0.4
    silent_frailty: NonNegative = 0.05
    disputed_multiplier: Positive = 0.5
    effects: Effects = Effects()

    @model_validator(mode="after")
    def _check_bands(self) -> "Hazard":
        if any(b <= a for a, b in zip(self.bands, self.bands[1:])):
            raise ValueError(f"hazard.bands must be strictly increasing days past due, got {self.bands}")
        if len(self.daily) != len(self.bands):
            raise ValueError(f"hazard.daily needs one intensity per band: {len(self.bands)} bands "
                             f"{self.bands} but {len(self.daily)} values {self.daily}")
        return self


class Behaviour(Strict):
    """How the payers of a segment behave (probabilities per invoice unless stated)."""

    hazard: Hazard = Hazard()
    silent_share: Probability = 0.01  # accounts with frailty hazard.silent_frailty: barely pay unless chased
    dispute_rate: Probability = 0.05  # dispute raised on receipt of the invoice
    partial_payment_rate: Probability = 0.04  # a payment covers only part of the invoice
    partial_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.6
    unapplied_rate: Probability = 0.06  # payment arrives without remittance advice
    rpc_rate: Probability = 0.45  # right-party contact per call attempt
    insolvency_rate_annual: Probability = 0.01  # per account per year
    risk_score_mean: Probability = 0.15  # mean probability-of-default style score, for risk_weighted


class Segment(Strict):
    """A group of accounts sharing terms, billing rhythm, amounts and behaviour."""

    name: str
    share: Probability
    terms_days: Literal[7, 14, 30, 45, 60] = 30
    channel: str = "electronic"  # billing channel written to the invoice table
    invoices_per_month: Positive = 2.0  # per account
    recurring_share: Probability = 0.5  # of invoices that are monthly contract billing
    amounts: Amounts = Amounts()
    credit_limit_months: Positive = 3.0  # credit limit = months of average billing
    behaviour: Behaviour = Behaviour()
    dunning_steps: list["DunningStep"] | None = None  # segment-specific cadence, else dunning.steps


class Portfolio(Strict):
    accounts: Annotated[int, Field(ge=1)] = 2_000
    segments: list[Segment] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_segments(self) -> "Portfolio":
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique, got {names}")
        _shares_sum_to_one({s.name: s.share for s in self.segments}, "segment shares")
        return self


class DunningStep(Strict):
    """One dunning level: sent when an item is ``days_past_due`` past due (negative = pre-due reminder)."""

    days_past_due: int
    channel: Literal["email", "letter", "sms"] = "email"


class Legal(Strict):
    """Pre-legal hand-over to an agency: after ``days_to_recover`` it recovers the handed-over items in
    full with probability ``recovery_rate`` (one draw per hand-over), otherwise they are written off."""

    recovery_rate: Probability = 0.4
    days_to_recover: Annotated[int, Field(ge=1)] = 60


class Dunning(Strict):
    enabled: bool = True
    steps: list[DunningStep] = Field(
        default_factory=lambda: [
            DunningStep(days_past_due=-3, channel="email"),
            DunningStep(days_past_due=10, channel="email"),
            DunningStep(days_past_due=25, channel="letter"),
            DunningStep(days_past_due=45, channel="letter"),
        ]
    )
    min_amount: NonNegative = 25.0  # account past-due balance below which no letter is sent
    pre_legal_days: Annotated[int, Field(ge=1)] | None = 90  # hand-over to legal, None = never
    legal: Legal = Legal()
    write_off_days: Annotated[int, Field(ge=1)] = 180

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[DunningStep]) -> list[DunningStep]:
        days = [s.days_past_due for s in steps]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError(f"dunning steps must have strictly increasing days_past_due, got {days}")
        return steps


class Calendar(Strict):
    weekmask: str = "Mon Tue Wed Thu Fri"
    holidays: list[dt.date] = Field(default_factory=list)


class Team(Strict):
    collectors: Annotated[int, Field(ge=0)] = 6
    hours_per_day: Annotated[float, Field(gt=0, le=24)] = 7.5
    shift_start_hour: Annotated[float, Field(ge=0, lt=24)] = 8.5
    absence_rate: Probability = 0.06  # share of business days a collector is away (leave, sickness)
    shrinkage: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.25  # in-shift time not spent on calls/queries
    dispute_analysts: Annotated[int, Field(ge=0)] = 3
    cash_app_clerks: Annotated[int, Field(ge=0)] = 1
    cost_per_fte: NonNegative = 55_000.0  # fully loaded, per year


class Work(Strict):
    """Handling times in minutes."""

    call_attempt: Positive = 4.0  # dial, voicemail, notes: no right-party contact
    conversation: Positive = 12.0  # right-party contact, including wrap-up notes
    email: Positive = 4.0
    pre_legal_file: Positive = 30.0
    payment_plan_setup: Positive = 20.0
    inbound_query: Positive = 6.0
    dispute_analysis: Positive = 60.0  # analyst minutes of work per dispute
    cash_match: Positive = 6.0  # clerk minutes per unapplied payment


class CallOutcomes(Strict):
    """What a right-party contact produces (shares summing to 1)."""

    promise_to_pay: Probability = 0.55
    dispute: Probability = 0.08
    payment_plan: Probability = 0.07
    refusal: Probability = 0.30

    @model_validator(mode="after")
    def _sum(self) -> "CallOutcomes":
        _shares_sum_to_one(self.model_dump(), "strategy.outcomes")
        return self


class Strategy(Strict):
    prioritisation: str = "oldest_first"
    recontact_business_days: Annotated[int, Field(ge=0)] = 5  # after a conversation, wait this long to call again
    retry_business_days: Annotated[int, Field(ge=1)] = 1  # after an attempt without contact, retry this much later
    min_past_due_amount: NonNegative = 0.0
    min_days_past_due: Annotated[int, Field(ge=0)] = 1
    ptp_max_days: Annotated[int, Field(ge=1)] = 7
    #: a promise counts as kept when the promised items are paid by the promised date + this many days
    promise_grace_days: Annotated[int, Field(ge=0)] = 2
    outcomes: CallOutcomes = CallOutcomes()
    coverage_business_days: Annotated[int, Field(ge=1)] = 2  # coverage KPI: touched within this many business days

    @field_validator("prioritisation")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; expected one of {', '.join(STRATEGIES)}")
        return v


class Disputes(Strict):
    enabled: bool = True
    sla_business_days: Annotated[int, Field(ge=1)] = 10
    info_wait_days: NonNegative = 4.0  # mean days gathering information before an analyst can decide
    reasons: dict[str, Probability] = Field(
        default_factory=lambda: {
            "pricing": 0.30, "quantity": 0.15, "billing_error": 0.25,
            "contract": 0.10, "duplicate": 0.05, "service": 0.15,
        }
    )
    outcomes: dict[Literal["credit_rebill", "partial_credit", "rejected"], Probability] = Field(
        default_factory=lambda: {"credit_rebill": 0.35, "partial_credit": 0.30, "rejected": 0.35}
    )
    partial_credit_share: Annotated[float, Field(gt=0, lt=1)] = 0.3
    rebill_share: Annotated[float, Field(gt=0, le=1)] = 0.9  # corrected invoice as share of original

    @field_validator("reasons")
    @classmethod
    def _reasons(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(DISPUTE_REASONS)
        if unknown:
            raise ValueError(f"unknown dispute reasons {sorted(unknown)}; expected {', '.join(DISPUTE_REASONS)}")
        return _shares_sum_to_one(v, "disputes.reasons")

    @field_validator("outcomes")
    @classmethod
    def _outcomes(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares_sum_to_one(v, "disputes.outcomes")


class PaymentPlans(Strict):
    enabled: bool = True
    instalments: Annotated[int, Field(ge=2, le=24)] = 3
    interval_days: Annotated[int, Field(ge=7)] = 30
    break_rate: Probability = 0.15  # per instalment
    approval_limit: NonNegative = 50_000.0  # plans above this wait for approval
    approval_days: Annotated[int, Field(ge=0)] = 3


class Inbound(Strict):
    """Customer calls/emails to the collectors; served before outbound work."""

    enabled: bool = True
    per_1000_accounts_per_day: NonNegative = 20.0
    sla_minutes: Positive = 240.0


ASSIGNMENT_RULES = ("round_robin", "balance_band", "segment")
QUERY_REASONS = ("pricing", "quantity", "missing_po", "proof_of_delivery", "duplicate_billing", "contract_data",
                 "payment_information")
QUERY_OUTCOMES = ("dispute", "promise", "credit_note", "corrected_invoice", "nothing")


class QueryChannel(Strict):
    """One inbound channel: arrivals per business day per 1,000 accounts (Poisson, within opening hours),
    mean handling minutes (exponential) and the SLA: picked up within ``sla_minutes`` of arrival, else
    escalated to the team leads."""

    name: str
    per_1000_accounts_per_day: NonNegative
    handling_minutes: Positive
    sla_minutes: Positive


class Escalation(Strict):
    """The team-lead queue that takes queries past their SLA."""

    team_leads: Annotated[int, Field(ge=0)] = 1
    handling_minutes: Positive = 20.0


def _default_query_outcomes() -> dict[str, dict[str, float]]:
    rows = {  # dispute, promise, credit_note, corrected_invoice, nothing (assumptions)
        "pricing": (0.25, 0.10, 0.25, 0.10, 0.30), "quantity": (0.20, 0.10, 0.30, 0.10, 0.30),
        "missing_po": (0.0, 0.20, 0.0, 0.50, 0.30), "proof_of_delivery": (0.20, 0.40, 0.0, 0.0, 0.40),
        "duplicate_billing": (0.0, 0.0, 0.80, 0.0, 0.20), "contract_data": (0.20, 0.0, 0.0, 0.40, 0.40),
        "payment_information": (0.0, 0.50, 0.0, 0.0, 0.50),
    }
    return {r: dict(zip(QUERY_OUTCOMES, v)) for r, v in rows.items()}


class Queries(Strict):
    """Query management (docs/model.md §2.17): inbound queries by channel with a reason code and an
    outcome. Off by default; when on it replaces the workload-only ``inbound`` stream."""

    enabled: bool = False
    channels: list[QueryChannel] = Field(default_factory=lambda: [
        QueryChannel(name="phone", per_1000_accounts_per_day=8.0, handling_minutes=6.0, sla_minutes=240.0),
        QueryChannel(name="mailbox", per_1000_accounts_per_day=8.0, handling_minutes=10.0, sla_minutes=1440.0),
        QueryChannel(name="portal", per_1000_accounts_per_day=4.0, handling_minutes=12.0, sla_minutes=2880.0),
    ], min_length=1)
    #: reason mix of every segment, unless the segment has its own in ``segment_reasons``
    reasons: dict[str, Probability] = Field(default_factory=lambda: {
        "pricing": 0.20, "quantity": 0.10, "missing_po": 0.15, "proof_of_delivery": 0.10,
        "duplicate_billing": 0.05, "contract_data": 0.15, "payment_information": 0.25})
    segment_reasons: dict[str, dict[str, Probability]] = Field(default_factory=dict)
    #: what-if: multiply a reason's arrival rate (0 removes the root cause)
    reason_scale: dict[str, NonNegative] = Field(default_factory=dict)
    outcomes: dict[str, dict[str, Probability]] = Field(default_factory=_default_query_outcomes)
    #: mean days (exponential) from the answer to the outcome (information from billing, logistics, sales),
    #: during which the payer still holds the invoice back
    resolution_days: dict[str, NonNegative] = Field(default_factory=lambda: {
        "pricing": 5.0, "quantity": 5.0, "missing_po": 3.0, "proof_of_delivery": 4.0, "duplicate_billing": 3.0,
        "contract_data": 7.0, "payment_information": 1.0})
    credit_share: Annotated[float, Field(gt=0, le=1)] = 0.3  # a credit note credits this share of the open amount
    rebill_share: Annotated[float, Field(gt=0, le=1)] = 0.95  # corrected invoice as a share of the original
    escalation: Escalation = Escalation()


class Collector(Strict):
    """One collector of a team; ``languages`` defaults to the team's languages."""

    languages: list[str] | None = None


class Desk(Strict):
    """A collections team (docs/model.md §2.16): its collectors, the account languages and segments it
    serves, how accounts are assigned to an owner, and its own worklist ranking."""

    name: str
    #: a head count (each speaks the team's languages) or one entry per collector
    collectors: Annotated[int, Field(ge=0)] | list[Collector] = 1
    languages: list[str] = Field(min_length=1)  # account languages this team serves
    segments: list[str] = Field(default_factory=list)  # segments served; empty = every segment
    assignment: Literal["round_robin", "balance_band", "segment"] = "round_robin"
    help_overflow: bool = True  # a collector whose own list is done calls teammates' waiting accounts
    backup: Literal["none", "team"] = "none"  # an absent owner's list goes to the teammates, or waits
    prioritisation: str | None = None  # the team's own strategy; None = strategy.prioritisation

    @field_validator("prioritisation")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is not None and v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; expected one of {', '.join(STRATEGIES)}")
        return v

    def speakers(self) -> list[list[str]]:
        """The languages of each collector, in order."""
        if isinstance(self.collectors, int):
            return [list(self.languages)] * self.collectors
        return [list(c.languages if c.languages is not None else self.languages) for c in self.collectors]


class Teams(Strict):
    """Teams, owned portfolios and language skills (docs/model.md §2.16). Off by default: one pool of
    ``team.collectors`` sharing one worklist."""

    enabled: bool = False
    #: segment name -> account language -> share of the segment's accounts (each sums to 1)
    languages: dict[str, dict[str, Probability]] = Field(default_factory=dict)
    desks: list[Desk] = Field(default_factory=list)

    def headcount(self) -> int:
        return sum(len(d.speakers()) for d in self.desks)


class Finance(Strict):
    cost_of_capital: Annotated[float, Field(ge=0, le=1)] = 0.08  # per year


class Provenance(Strict):
    """Where a calibrated value came from: the estimate, its standard error (log scale for multipliers
    and daily rates; None where not defined), its 95 % interval and its source (written by ``o2c-sim
    calibrate``; free for a team lead to add to)."""

    estimate: float | int | None = None
    se: float | None = None
    ci95: list[float | None] | None = Field(default=None, min_length=2, max_length=2)
    source: str = ""


class Scenario(Strict):
    name: str
    description: str = ""
    seed: int = 12345
    start_date: dt.date = dt.date(2026, 1, 5)
    horizon_days: Annotated[int, Field(ge=30, le=3660)] = 365
    warmup_days: Annotated[int, Field(ge=0, le=1830)] = 180
    replications: Annotated[int, Field(ge=1, le=1000)] = 3
    currency: str = "EUR"
    calendar: Calendar = Calendar()
    portfolio: Portfolio
    dunning: Dunning = Dunning()
    team: Team = Team()
    work: Work = Work()
    strategy: Strategy = Strategy()
    disputes: Disputes = Disputes()
    payment_plans: PaymentPlans = PaymentPlans()
    inbound: Inbound = Inbound()
    finance: Finance = Finance()
    teams: Teams = Teams()
    queries: Queries = Queries()
    #: dotted scenario path -> where its value came from (a calibration writes one entry per estimate)
    provenance: dict[str, Provenance] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_teams(self) -> "Scenario":
        if self.teams.enabled:
            check_teams(self.teams, [s.name for s in self.portfolio.segments])
            if self.team.collectors != self.teams.headcount():
                self.team.collectors = self.teams.headcount()  # with teams on, the head count is the teams'
        if self.queries.enabled:
            check_queries(self.queries, [s.name for s in self.portfolio.segments])
        return self

    def to_yaml(self) -> str:
        """The resolved scenario as YAML (every default written out)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def with_overrides(self, overrides: dict[str, Any] | list[str] | None) -> "Scenario":
        """A new scenario with dotted-path overrides applied (see :func:`apply_overrides`)."""
        if not overrides:
            return self
        data = apply_overrides(self.model_dump(mode="json"), overrides)
        return from_dict(data, source=f"scenario {self.name!r} with overrides {_normalise(overrides)}")


Segment.model_rebuild()


def check_teams(teams: Teams, segments: list[str]) -> None:
    """Reject a team set-up that cannot work, naming the field (raised as ValueError inside validation)."""
    if not teams.desks:
        raise ValueError("field 'teams.desks': teams.enabled is true but no team is defined")
    names = [d.name for d in teams.desks]
    if len(set(names)) != len(names):
        raise ValueError(f"field 'teams.desks': team names must be unique, got {names}")
    for seg in segments:
        if seg not in teams.languages:
            raise ValueError(f"field 'teams.languages': no language shares for segment {seg!r}; "
                             f"expected a mapping like {seg}: {{en: 0.7, fr: 0.3}} for each of {segments}")
    for seg, shares in teams.languages.items():
        if seg not in segments:
            raise ValueError(f"field 'teams.languages.{seg}': unknown segment; expected one of {segments}")
        total = sum(shares.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"field 'teams.languages.{seg}': language shares must sum to 1, got {total:g}")
    spoken = {lang for d in teams.desks for person in d.speakers() for lang in person}
    for d in teams.desks:
        unknown = [s for s in d.segments if s not in segments]
        if unknown:
            raise ValueError(f"field 'teams.desks.{d.name}.segments': unknown segment(s) {unknown}; expected some of {segments}")
    for seg, shares in teams.languages.items():
        for lang, share in shares.items():
            if share <= 0:
                continue
            desk = serving_desk(teams, seg, lang)
            if desk is not None and not desk.speakers():
                raise ValueError(f"field 'teams.desks.{desk.name}.collectors': the team has no collectors but is assigned "
                                 f"the {lang!r} accounts of segment {seg!r}; give it collectors or serve them elsewhere")
            if lang not in spoken:
                raise ValueError(f"field 'teams.languages.{seg}.{lang}': no collector in any team speaks {lang!r} "
                                 f"(spoken: {sorted(spoken)}); add a speaker or set the share to 0")


def check_queries(q: Queries, segments: list[str]) -> None:
    """Reject a query set-up that cannot work, naming the field (raised as ValueError inside validation)."""
    def reasons_of(where: str, shares: dict[str, float]) -> None:
        unknown = sorted(set(shares) - set(QUERY_REASONS))
        if unknown:
            raise ValueError(f"field '{where}': unknown query reason(s) {unknown}; expected some of {', '.join(QUERY_REASONS)}")
        total = sum(shares.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"field '{where}': reason shares must sum to 1, got {total:g}")

    reasons_of("queries.reasons", q.reasons)
    for seg, shares in q.segment_reasons.items():
        if seg not in segments:
            raise ValueError(f"field 'queries.segment_reasons.{seg}': unknown segment; expected one of {segments}")
        reasons_of(f"queries.segment_reasons.{seg}", shares)
    for name in ("reason_scale", "resolution_days"):
        unknown = sorted(set(getattr(q, name)) - set(QUERY_REASONS))
        if unknown:
            raise ValueError(f"field 'queries.{name}': unknown query reason(s) {unknown}; expected some of {', '.join(QUERY_REASONS)}")
    for reason in QUERY_REASONS:
        mix = q.outcomes.get(reason)
        if mix is None:
            raise ValueError(f"field 'queries.outcomes': no outcome shares for reason {reason!r}")
        bad = sorted(set(mix) - set(QUERY_OUTCOMES))
        if bad:
            raise ValueError(f"field 'queries.outcomes.{reason}': unknown outcome(s) {bad}; expected some of {', '.join(QUERY_OUTCOMES)}")
        total = sum(mix.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"field 'queries.outcomes.{reason}': outcome shares must sum to 1, got {total:g}")
    names = [c.name for c in q.channels]
    if len(set(names)) != len(names):
        raise ValueError(f"field 'queries.channels': channel names must be unique, got {names}")


def serving_desk(teams: Teams, segment: str, language: str) -> Desk | None:
    """The first team that serves accounts of ``segment`` speaking ``language`` (None: left to dunning)."""
    for d in teams.desks:
        if (not d.segments or segment in d.segments) and language in d.languages:
            return d
    return None


# --------------------------------------------------------------------------------------------- loading


#: keys of the natural-payment-day model that the hazard model replaced, and what replaces them
REPLACED_KEYS = {
    "delay": "behaviour.hazard (bands and daily: the chance to pay by days past due; frailty_variance)",
    "delay_disputed": "behaviour.hazard.disputed_multiplier",
    "letter_sensitivity": "behaviour.hazard.effects.notice (one multiplier and window per dunning level)",
    "response_rate": "behaviour.hazard.effects.notice of each segment (one multiplier and window per level)",
    "response_window_days": "behaviour.hazard.effects.notice[k].window_days",
    "ptp_keep_rate": "behaviour.hazard.effects.promise (the keep rate is now an outcome, see strategy.promise_grace_days)",
}


def _format_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden" and str(e["loc"][-1]) in REPLACED_KEYS:
            msg = (f"this key belongs to the former payment-delay model and was replaced by "
                   f"{REPLACED_KEYS[str(e['loc'][-1])]}; see docs/model.md §2.2")
        elif e["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see docs/model.md for the keys)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        if not e["loc"] and msg.startswith("field '"):
            parts.append(msg)  # a cross-section check names its own field
            continue
        parts.append(f"field '{loc}': {msg} (got {e.get('input')!r})" if e["type"] != "missing" else f"field '{loc}': {msg}")
    return "; ".join(parts)


def from_dict(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a plain dict as a :class:`Scenario`, raising :class:`UserError` naming the bad fields."""
    if not isinstance(data, dict):
        raise UserError(f"expected a mapping of scenario keys at the top level, got {type(data).__name__}", source=source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise UserError(_format_validation_error(err), source=source) from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning every I/O and syntax problem into a :class:`UserError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("file not found; expected a YAML file (try one of scenarios/*.yaml)", source=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read as UTF-8 text: {exc.strerror or exc}", source=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"malformed YAML at {where}{problem}", source=str(path)) from None


def _deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``: mappings merge key by key, anything else (lists included) is replaced."""
    out = dict(base)
    for key, value in top.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_scenario_data(path: Path, _seen: tuple[Path, ...] = ()) -> dict:
    """A scenario file's mapping, with ``extends: other.yaml`` resolved (relative to the file)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError("expected a mapping of scenario keys at the top level", source=str(path))
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"field 'extends': expected the name of another scenario file, got {parent!r}", source=str(path))
    base_path = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    if base_path.suffix not in {".yaml", ".yml"}:
        base_path = base_path.with_name(base_path.name + ".yaml")
    if base_path.resolve() in _seen:
        raise UserError(f"field 'extends': {parent!r} extends itself in a cycle", source=str(path))
    return _deep_merge(read_scenario_data(base_path, _seen + (path.resolve(),)), data)


def load_scenario(path: str | Path, overrides: dict[str, Any] | list[str] | None = None) -> Scenario:
    """Load and validate a scenario file, then apply overrides. ``path`` may be a shipped name like ``baseline``.

    A file may start from another with ``extends: baseline.yaml`` and change only what differs.
    """
    from .settings import scenario_path

    resolved = scenario_path(path)
    data = read_scenario_data(Path(resolved))
    scenario = from_dict(data, source=str(resolved))
    if not overrides:
        return scenario
    resolved_data = apply_overrides(scenario.model_dump(mode="json"), overrides, source=str(resolved))
    return from_dict(resolved_data, source=f"{resolved} (with overrides {_normalise(overrides)})")


# ------------------------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"team.collectors=8"`` into ``("team.collectors", 8)``; the value is parsed as YAML.

    ``key=+2`` and ``key-=2`` are relative: they add to / subtract from the value already there.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise UserError(f"override {text!r} is not of the form key=value (e.g. team.collectors=8)")
    if key.endswith(("+", "-")):
        key, raw = key[:-1].strip(), key[-1] + raw
    if raw.startswith("+") or (raw.startswith("-") and text.partition("=")[0].strip().endswith("-")):
        return key, raw  # relative, resolved against the current value
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        value = raw
    return key, value


def _normalise(overrides: dict[str, Any] | list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return dict(parse_override(o) for o in overrides)


def _child(node: Any, part: str, path: str) -> tuple[Any, Any]:
    """Return (container, key) addressing ``part`` inside ``node``; lists accept an index or an item name."""
    if isinstance(node, dict):
        return node, part
    if isinstance(node, list):
        if part.lstrip("-").isdigit():
            idx = int(part)
            if not -len(node) <= idx < len(node):
                raise UserError(f"override '{path}': index {idx} is out of range (the list has {len(node)} items)")
            return node, idx
        for i, item in enumerate(node):
            if isinstance(item, dict) and item.get("name") == part:
                return node, i
        names = [item.get("name") for item in node if isinstance(item, dict)]
        raise UserError(f"override '{path}': no item named {part!r}; expected an index or one of {names}")
    raise UserError(f"override '{path}': {part!r} cannot be looked up inside a {type(node).__name__} value")


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | list[str] | None, *, source: str | None = None) -> dict[str, Any]:
    """Return a deep copy of ``data`` with each dotted path set to its value.

    Paths name existing sections (``team.collectors``), list items by index or by ``name``
    (``portfolio.segments.smb.share``, ``dunning.steps.0.days_past_due``). A path into a section that is
    absent from the file but has defaults (``inbound.sla_minutes``) creates it. Relative values
    ``"+2"``/``"-1"`` add to a numeric value already present (``team.collectors=+2``).
    Whether the value is valid is then decided by the schema.
    """
    result = copy.deepcopy(data)
    for path, value in _normalise(overrides).items():
        parts = path.split(".")
        if not all(parts):
            raise UserError(f"override '{path}': empty part in dotted path", source=source)
        node: Any = result
        for i, part in enumerate(parts):
            container, key = _child(node, part, path)
            last = i == len(parts) - 1
            if last:
                current = container.get(key) if isinstance(container, dict) else container[key]
                container[key] = _relative(value, current, path)
            else:
                if isinstance(container, dict) and key not in container:
                    container[key] = {}
                node = container[key]
    return result


def _relative(value: Any, current: Any, path: str) -> Any:
    """``"+2"``/``"-2"`` relative to a numeric current value; other values unchanged."""
    if isinstance(value, str) and value[:1] in "+-":
        try:
            delta = float(value)
        except ValueError:
            return value
        if current is None or isinstance(current, bool) or not isinstance(current, (int, float)):
            raise UserError(f"override '{path}': a relative value {value!r} needs a number already set there, found {current!r}")
        out = current + delta
        return int(out) if isinstance(current, int) and delta.is_integer() else out
    return value
