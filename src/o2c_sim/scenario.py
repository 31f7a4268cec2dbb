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
import re
import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from o2c_sim import strategies
from o2c_sim.errors import UserError

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
MAX_DAYS = 3660  # ten years: any delay, window or deadline in days
MAX_MINUTES = 1440.0  # one day: any handling time in minutes
MAX_MONEY = 1e12
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY)]
MeanDays = Annotated[float, Field(ge=0.0, le=MAX_DAYS)]
Minutes = Annotated[float, Field(gt=0.0, le=MAX_MINUTES)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]
DaysOrZero = Annotated[int, Field(ge=0, le=MAX_DAYS)]
MAX_MULTIPLIER = 1000.0  # any hazard multiplier: 1000× already means "pays at once"
Multiplier = Annotated[float, Field(gt=0.0, le=MAX_MULTIPLIER)]
Intensity = Annotated[float, Field(gt=0.0, le=1e4)]  # daily hazard intensity (above ~20, paying that day is certain)

STRATEGIES = tuple(strategies.BUILT_IN)
DISPUTE_REASONS = ("pricing", "quantity", "billing_error", "contract", "duplicate", "service")


class Strict(BaseModel):
    """Base for every section: unknown keys are an error, NaN and infinity are refused, values are
    validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


#: upper bounds that reflect the world (and the memory of one machine), with the reason shown to a
#: user who passes them; the field name is the last part of the dotted path
LIMITS = {
    "accounts": (200_000, "a larger portfolio does not fit one machine's memory; split it into segments run separately"),
    "collectors": (2_000, "more than any collections team; check the value"),
    "dispute_analysts": (2_000, "more than any collections team; check the value"),
    "cash_app_clerks": (2_000, "more than any collections team; check the value"),
    "invoices_per_month": (500.0, "per account; more than 500 invoices a month per account is a data error"),
    "median": (1e9, "invoice amounts above a billion are a data error"),
    "minimum": (1e9, "invoice amounts above a billion are a data error"),
    "replications": (1_000, "more replications than 1,000 narrow the CI by less than rounding; use a sweep for more"),
    "seed": (2**63 - 1, "seeds are 64-bit integers"),
    "approval_limit": (1e12, "amounts above a trillion are a data error"),
    "cost_per_fte": (1e8, "a yearly cost per person above 100 million is a data error"),
}
MAX_INVOICES = 20_000_000  # invoices one simulation holds in memory (≈ 2 GB of ledger and event arrays)
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)  # inside what pandas can hold (1677–2262)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def check_flag(flag: str, value: int, low: int, limit: str) -> None:
    """A command-line count within ``low`` .. the schema's cap for ``limit`` (:data:`LIMITS`), as a
    :class:`UserError` naming the flag and why the cap is there."""
    cap, why = LIMITS[limit]
    if value < low:
        raise UserError(f"{flag} must be at least {low}, got {value}")
    if value > cap:
        raise UserError(f"{flag} must be at most {cap:,} ({why}), got {value:,}")


def _limit(name: str, kind: type = int, **low) -> Any:
    """``Annotated[kind, Field(le=LIMITS[name], **low)]``."""
    return Annotated[kind, Field(le=LIMITS[name][0], **low)]


def _shares_sum_to_one(shares: dict[str, float], what: str) -> dict[str, float]:
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{what} must sum to 1, got {total:g}")
    return shares


class Amounts(Strict):
    """Invoice amounts: lognormal with the given median and log-scale sigma, floored at ``minimum``."""

    median: _limit("median", float, gt=0.0) = 2_000.0
    sigma: Annotated[float, Field(ge=0.0, le=5.0)] = 0.9  # exp(5σ) spans any real invoice range
    minimum: _limit("minimum", float, ge=0.0) = 10.0


class Effect(Strict):
    """A collection action's effect on the payer: the hazard is multiplied by ``multiplier`` on every
    day within ``window_days`` calendar days after the action (from the next day; 1 = no effect)."""

    multiplier: Multiplier = 1.0
    window_days: Days = 7


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
    fee: Effect = Effect(multiplier=1.0, window_days=10)  # a fee was added to the item (fees: see Fees)
    agency: Effect = Effect(multiplier=1.0, window_days=30)  # reserved: the agency has its own recovery
    #: while the account is on credit hold (credit_holds.enabled); its window is not used
    credit_hold: Effect = Effect(multiplier=1.5, window_days=1)


class Hazard(Strict):
    """Payer behaviour as a discrete-time hazard on business days (docs/model.md §2.2).

    On business day t an open, unblocked item of account a pays with probability 1 − exp(−H), with
    H = daily[band(days past due)] · z_a · ∏ multiplier_k^(action k recent). ``bands`` are the left
    edges (days past due) of the bands of ``daily``; before the first edge the first band applies and
    the last band is open-ended. z_a is the account's frailty: Gamma(mean 1, ``frailty_variance``), or
    ``silent_frailty`` for the segment's ``silent_share`` of accounts; items disputed on receipt have
    their frailty multiplied by ``disputed_multiplier``.
    """

    bands: list[Annotated[int, Field(ge=-MAX_DAYS, le=MAX_DAYS)]] = Field(
        default_factory=lambda: [-30, -7, 0, 1, 8, 15, 31, 61, 91], min_length=1, max_length=400)
    daily: list[Intensity] = Field(default_factory=lambda: [0.004, 0.06, 0.5, 0.12, 0.1, 0.08, 0.05, 0.03, 0.02],
                                   min_length=1, max_length=400)
    frailty_variance: Annotated[float, Field(ge=0.0, le=100.0)] = 0.4
    silent_frailty: Annotated[float, Field(ge=0.0, le=MAX_MULTIPLIER)] = 0.05
    disputed_multiplier: Multiplier = 0.5
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
    invoices_per_month: _limit("invoices_per_month", float, gt=0.0) = 2.0  # per account
    recurring_share: Probability = 0.5  # of invoices that are monthly contract billing
    amounts: Amounts = Amounts()
    credit_limit_months: Annotated[float, Field(gt=0.0, le=120.0)] = 3.0  # credit limit = months of average billing
    behaviour: Behaviour = Behaviour()
    dunning_steps: list["DunningStep"] | None = None  # segment-specific cadence, else dunning.steps

    @field_validator("dunning_steps")
    @classmethod
    def _ascending(cls, steps: list["DunningStep"] | None) -> list["DunningStep"] | None:
        return None if steps is None else _ascending_steps(steps)


class Portfolio(Strict):
    accounts: _limit("accounts", ge=1) = 2_000
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
    days_to_recover: Days = 60


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
    min_amount: Money = 25.0  # account past-due balance below which no letter is sent
    pre_legal_days: Days | None = 90  # hand-over to legal, None = never
    legal: Legal = Legal()
    write_off_days: Days = 180

    @field_validator("steps")
    @classmethod
    def _ascending(cls, steps: list[DunningStep]) -> list[DunningStep]:
        return _ascending_steps(steps)


def _ascending_steps(steps: list[DunningStep]) -> list[DunningStep]:
    """A cadence (global or a segment's): strictly increasing days_past_due, within ±10 years."""
    days = [s.days_past_due for s in steps]
    if days != sorted(days) or len(set(days)) != len(days):
        raise ValueError(f"dunning steps must have strictly increasing days_past_due, got {days}")
    if any(abs(d) > 3660 for d in days):
        raise ValueError(f"dunning step days_past_due must be within ±3660 days, got {days}")
    return steps


def _in_date_range(d: dt.date) -> dt.date:
    if not FIRST_DATE <= d <= LAST_DATE:
        raise ValueError(f"date {d} is outside {FIRST_DATE}..{LAST_DATE} (the range a simulation calendar can hold)")
    return d


class Calendar(Strict):
    weekmask: str = "Mon Tue Wed Thu Fri"
    holidays: list[dt.date] = Field(default_factory=list, max_length=10_000)

    @field_validator("weekmask")
    @classmethod
    def _weekmask(cls, v: str) -> str:
        days = v.split()
        if not days or any(d not in WEEKDAYS for d in days) or len(set(days)) != len(days):
            raise ValueError(f"expected working days separated by spaces from {' '.join(WEEKDAYS)} "
                             f"(e.g. 'Mon Tue Wed Thu Fri'), each at most once, got {v!r}")
        return v

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: list[dt.date]) -> list[dt.date]:
        return [_in_date_range(d) for d in v]


class Team(Strict):
    collectors: _limit("collectors", ge=0) = 6
    hours_per_day: Annotated[float, Field(gt=0, le=24)] = 7.5
    shift_start_hour: Annotated[float, Field(ge=0, lt=24)] = 8.5
    absence_rate: Probability = 0.06  # share of business days a collector is away (leave, sickness)
    shrinkage: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.25  # in-shift time not spent on calls/queries
    dispute_analysts: _limit("dispute_analysts", ge=0) = 3
    cash_app_clerks: _limit("cash_app_clerks", ge=0) = 1
    cost_per_fte: _limit("cost_per_fte", float, ge=0.0) = 55_000.0  # fully loaded, per year


class Work(Strict):
    """Handling times in minutes."""

    call_attempt: Minutes = 4.0  # dial, voicemail, notes: no right-party contact
    conversation: Minutes = 12.0  # right-party contact, including wrap-up notes
    email: Minutes = 4.0
    pre_legal_file: Minutes = 30.0
    payment_plan_setup: Minutes = 20.0
    inbound_query: Minutes = 6.0
    dispute_analysis: Minutes = 60.0  # analyst minutes of work per dispute
    cash_match: Minutes = 6.0  # clerk minutes per unapplied payment


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
    recontact_business_days: DaysOrZero = 5  # after a conversation, wait this long to call again
    retry_business_days: Days = 1  # after an attempt without contact, retry this much later
    min_past_due_amount: Money = 0.0
    min_days_past_due: DaysOrZero = 1
    ptp_max_days: Days = 7
    #: a promise counts as kept when the promised items are paid by the promised date + this many days
    promise_grace_days: DaysOrZero = 2
    outcomes: CallOutcomes = CallOutcomes()
    coverage_business_days: Days = 2  # coverage KPI: touched within this many business days

    @field_validator("prioritisation")
    @classmethod
    def _known(cls, v: str) -> str:
        return strategies.canonical(v)


class Disputes(Strict):
    enabled: bool = True
    sla_business_days: Days = 10
    info_wait_days: MeanDays = 4.0  # mean days gathering information before an analyst can decide
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
    interval_days: Annotated[int, Field(ge=7, le=MAX_DAYS)] = 30
    break_rate: Probability = 0.15  # per instalment
    approval_limit: _limit("approval_limit", float, ge=0.0) = 50_000.0  # plans above this wait for approval
    approval_days: DaysOrZero = 3


class Inbound(Strict):
    """Customer calls/emails to the collectors; served before outbound work."""

    enabled: bool = True
    per_1000_accounts_per_day: Annotated[float, Field(ge=0.0, le=1000.0)] = 20.0  # ≤ one per account a day
    sla_minutes: Annotated[float, Field(gt=0.0, le=MAX_DAYS * MAX_MINUTES)] = 240.0


class FeeLevel(Strict):
    """Fees charged with the dunning notices of one level (as SAP F150's dunning charges per level).

    For each invoice dunned at ``level``: ``fixed`` (charged once per invoice when
    ``fees.fixed_once_per_invoice``), plus ``percent`` % of the item's open amount, plus — with
    ``interest`` — the late-payment interest accrued since the due date (or the last charge) on the open
    amount. Charged only when the account's amount dunned at this level reaches ``min_amount`` and is at
    least ``min_percent`` % of the account's open balance."""

    level: Annotated[int, Field(ge=1, le=100)]  # 1-based dunning level (1 = the cadence's first step)
    fixed: Money = 0.0
    percent: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    interest: bool = False
    min_amount: Money = 0.0
    min_percent: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0


class Fees(Strict):
    """Dunning fees and statutory late-payment interest as separate receivables (docs/model.md §2.17).

    Defaults where enabled follow the EU Late Payment Directive 2011/7/EU (Art. 6: a fixed
    compensation of 40 per invoice; Art. 2(6), 3(2): interest at the reference rate + 8 points a year);
    ``reference_rate`` is the ECB main refinancing rate (2.15 % since June 2025)."""

    enabled: bool = False
    levels: list[FeeLevel] = Field(default_factory=lambda: [
        FeeLevel(level=2, fixed=40.0, interest=True), FeeLevel(level=3, interest=True), FeeLevel(level=4, interest=True)])
    fixed_once_per_invoice: bool = True  # the Directive's 40 is due once per invoice
    reference_rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0215  # a year
    interest_margin: Annotated[float, Field(ge=0.0, le=1.0)] = 0.08  # points above the reference rate, a year
    paid_with_invoice: Probability = 0.5  # chance the payer pays an item's open fees when it settles the item
    waive_on_contact: Probability = 0.3  # chance a collector waives an account's open fees at a right-party contact
    write_off_days: DaysOrZero = 30  # fees still open this long after their item closed are written off

    @field_validator("levels")
    @classmethod
    def _unique_levels(cls, levels: list[FeeLevel]) -> list[FeeLevel]:
        seen = [f.level for f in levels]
        if len(set(seen)) != len(seen):
            raise ValueError(f"each dunning level may carry one fee entry, got levels {seen}")
        return levels


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class PaymentRunRule(Strict):
    """Accounts that pay only on their payment-run days (docs/model.md §2.18): ``share`` of the accounts
    of ``segments`` (all when empty), keyed by account. ``schedule``: ``weekday`` (every ``weekday``),
    ``days_of_month`` (e.g. [15, 31]: the first business day on or after each, within the month, else the
    month's last business day) or ``month_end`` (the last business day of the month)."""

    segments: list[str] = Field(default_factory=list)
    share: Probability = 1.0
    schedule: Literal["weekday", "days_of_month", "month_end"] = "weekday"
    weekday: str = "Fri"
    days_of_month: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=lambda: [15, 31], min_length=1)

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, v: str) -> str:
        if v not in WEEKDAYS:
            raise ValueError(f"unknown weekday {v!r}; expected one of {', '.join(WEEKDAYS)}")
        return v


class PaymentRuns(Strict):
    enabled: bool = False
    rules: list[PaymentRunRule] = Field(default_factory=lambda: [PaymentRunRule()])  # an account follows its first matching rule


class CreditHolds(Strict):
    """Credit holds (docs/model.md §2.19): an account of ``segments`` (all when empty) is put on hold when
    its open balance exceeds its credit limit (``over_limit``) or an item is ``max_days_past_due`` or
    more past due; its new billing is held until the condition clears, and its payment hazard is
    multiplied by ``hazard.effects.credit_hold`` while on hold."""

    enabled: bool = False
    segments: list[str] = Field(default_factory=list)
    over_limit: bool = True
    max_days_past_due: DaysOrZero | None = 60


class Seasonality(Strict):
    """Billing seasonality and growth (docs/model.md §2.20), off by default.

    One-off billing: a share ``month_end_share`` of each month's invoices falls in its last
    ``month_end_business_days`` business days, and a quarter's last month bills
    ``quarter_end_multiplier`` times the other two (a year's volume unchanged). All billing — one-off
    rates and recurring contract amounts — grows by ``growth_annual`` a year (compound) from the
    start date."""

    enabled: bool = False
    growth_annual: Annotated[float, Field(gt=-1.0, le=10.0)] = 0.0
    month_end_share: Probability | None = None  # None = spread evenly over the month's business days
    month_end_business_days: Annotated[int, Field(ge=1, le=15)] = 3
    quarter_end_multiplier: Annotated[float, Field(gt=0.0, le=12.0)] = 1.0


class Refunds(Strict):
    """Credit balances and refunds (docs/model.md §2.23), off by default.

    A customer's credit balance arises from a duplicate payment (a share ``duplicate_payment_rate`` of
    full payments is paid twice), from a dispute credit on an invoice already partly paid (the paid part
    of the credit), or from suspense cash that no longer fits its invoice. With ``apply_to_open_items``
    the balance is first applied, each business morning, to the account's open items (oldest due
    first); what is left is refunded: after ``approval_days`` (calendar) a refund clerk spends
    ``handling_minutes`` on it. SLA: paid within ``sla_business_days`` business days of arising."""

    enabled: bool = False
    duplicate_payment_rate: Probability = 0.005
    apply_to_open_items: bool = False
    approval_days: MeanDays = 2.0
    handling_minutes: Minutes = 15.0
    clerks: _limit("cash_app_clerks", ge=0) = 1
    sla_business_days: Annotated[int, Field(ge=0, le=MAX_DAYS)] = 10


class Currencies(Strict):
    """Accounts billing in several currencies (docs/model.md §2.24), off by default.

    ``accounts.<segment>.<code>`` is the share of the segment's accounts billing in currency ``code`` (a
    segment not listed bills in the reporting currency ``currency``). ``rates.<code>.<date>`` is the
    value of one unit of ``code`` in the reporting currency from that date on (a day uses the latest
    rate dated on or before it); every currency billed needs a rate on or before the first simulated
    day."""

    enabled: bool = False
    accounts: dict[str, dict[str, Probability]] = Field(default_factory=dict)
    rates: dict[str, dict[dt.date, Annotated[float, Field(gt=0.0, le=1e6)]]] = Field(default_factory=dict)


ASSIGNMENT_RULES = ("round_robin", "balance_band", "segment")
QUERY_REASONS = ("pricing", "quantity", "missing_po", "proof_of_delivery", "duplicate_billing", "contract_data",
                 "payment_information")
QUERY_OUTCOMES = ("dispute", "promise", "credit_note", "corrected_invoice", "nothing")


class QueryChannel(Strict):
    """One inbound channel: arrivals per business day per 1,000 accounts (Poisson, within opening hours),
    mean handling minutes (exponential) and the SLA: picked up within ``sla_minutes`` of arrival, else
    escalated to the team leads."""

    name: str
    per_1000_accounts_per_day: Annotated[float, Field(ge=0.0, le=1000.0)]  # ≤ one per account a day
    handling_minutes: Minutes
    sla_minutes: Annotated[float, Field(gt=0.0, le=MAX_DAYS * MAX_MINUTES)]


class Escalation(Strict):
    """The team-lead queue that takes queries past their SLA."""

    team_leads: _limit("dispute_analysts", ge=0) = 1
    handling_minutes: Minutes = 20.0


def _default_query_outcomes() -> dict[str, dict[str, float]]:
    rows = {  # dispute, promise, credit_note, corrected_invoice, nothing (assumptions)
        "pricing": (0.25, 0.10, 0.25, 0.10, 0.30), "quantity": (0.20, 0.10, 0.30, 0.10, 0.30),
        "missing_po": (0.0, 0.20, 0.0, 0.50, 0.30), "proof_of_delivery": (0.20, 0.40, 0.0, 0.0, 0.40),
        "duplicate_billing": (0.0, 0.0, 0.80, 0.0, 0.20), "contract_data": (0.20, 0.0, 0.0, 0.40, 0.40),
        "payment_information": (0.0, 0.50, 0.0, 0.0, 0.50),
    }
    return {r: dict(zip(QUERY_OUTCOMES, v)) for r, v in rows.items()}


class Queries(Strict):
    """Query management (docs/model.md §2.22): inbound queries by channel with a reason code and an
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
    reason_scale: dict[str, Annotated[float, Field(ge=0.0, le=100.0)]] = Field(default_factory=dict)
    outcomes: dict[str, dict[str, Probability]] = Field(default_factory=_default_query_outcomes)
    #: mean days (exponential) from the answer to the outcome (information from billing, logistics, sales),
    #: during which the payer still holds the invoice back
    resolution_days: dict[str, MeanDays] = Field(default_factory=lambda: {
        "pricing": 5.0, "quantity": 5.0, "missing_po": 3.0, "proof_of_delivery": 4.0, "duplicate_billing": 3.0,
        "contract_data": 7.0, "payment_information": 1.0})
    credit_share: Annotated[float, Field(gt=0, le=1)] = 0.3  # a credit note credits this share of the open amount
    rebill_share: Annotated[float, Field(gt=0, le=1)] = 0.95  # corrected invoice as a share of the original
    escalation: Escalation = Escalation()


class Collector(Strict):
    """One collector of a team; ``languages`` defaults to the team's languages."""

    languages: list[str] | None = None


class Desk(Strict):
    """A collections team (docs/model.md §2.21): its collectors, the account languages and segments it
    serves, how accounts are assigned to an owner, and its own worklist ranking."""

    name: str
    #: a head count (each speaks the team's languages) or one entry per collector
    collectors: _limit("collectors", ge=0) | list[Collector] = 1
    languages: list[str] = Field(min_length=1)  # account languages this team serves
    segments: list[str] = Field(default_factory=list)  # segments served; empty = every segment
    assignment: Literal["round_robin", "balance_band", "segment"] = "round_robin"
    help_overflow: bool = True  # a collector whose own list is done calls teammates' waiting accounts
    backup: Literal["none", "team"] = "none"  # an absent owner's list goes to the teammates, or waits
    prioritisation: str | None = None  # the team's own strategy; None = strategy.prioritisation
    #: the team's own dunning cadence for the accounts it serves; None = the segment's (or dunning.steps)
    dunning_steps: list["DunningStep"] | None = None

    @field_validator("dunning_steps")
    @classmethod
    def _ascending(cls, steps: list["DunningStep"] | None) -> list["DunningStep"] | None:
        return None if steps is None else _ascending_steps(steps)

    @field_validator("prioritisation")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        return None if v is None else strategies.canonical(v)

    def speakers(self) -> list[list[str]]:
        """The languages of each collector, in order."""
        if isinstance(self.collectors, int):
            return [list(self.languages)] * self.collectors
        return [list(c.languages if c.languages is not None else self.languages) for c in self.collectors]


class Teams(Strict):
    """Teams, owned portfolios and language skills (docs/model.md §2.21). Off by default: one pool of
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
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    seed: _limit("seed", ge=0) = 12345
    start_date: dt.date = dt.date(2026, 1, 5)
    horizon_days: Annotated[int, Field(ge=30, le=3660)] = 365
    warmup_days: Annotated[int, Field(ge=0, le=1830)] = 180
    replications: _limit("replications", ge=1) = 3
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
    fees: Fees = Fees()
    payment_runs: PaymentRuns = PaymentRuns()
    credit_holds: CreditHolds = CreditHolds()
    seasonality: Seasonality = Seasonality()
    teams: Teams = Teams()
    queries: Queries = Queries()
    refunds: Refunds = Refunds()
    currencies: Currencies = Currencies()
    #: dotted scenario path -> where its value came from (a calibration writes one entry per estimate)
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    #: dotted path → distribution spec of every uncertain value (see :mod:`o2c_sim.uncertainty`)
    uncertain: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("start_date")
    @classmethod
    def _start(cls, v: dt.date) -> dt.date:
        return _in_date_range(v)

    @model_validator(mode="after")
    def _size(self) -> "Scenario":
        """Invoices issued over warm-up + horizon ≈ accounts × Σ share·invoices_per_month × months."""
        per_month = sum(s.share * s.invoices_per_month for s in self.portfolio.segments)
        invoices = self.portfolio.accounts * per_month * (self.warmup_days + self.horizon_days) / 30.44
        if invoices > MAX_INVOICES:
            raise ValueError(f"the scenario would issue about {invoices:,.0f} invoices (portfolio.accounts × "
                             f"invoices_per_month × months of warm-up + horizon); at most {MAX_INVOICES:,} fit one "
                             "machine's memory — fewer accounts, a shorter horizon, or segments run separately")
        return self

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.strip() or any(not c.isprintable() for c in v):
            raise ValueError("expected a printable, non-blank name (it names the run directory)")
        return v

    @model_validator(mode="after")
    def _check_operations(self) -> "Scenario":
        names = [s.name for s in self.portfolio.segments]
        own = [s.dunning_steps for s in self.portfolio.segments] + ([d.dunning_steps for d in self.teams.desks] if self.teams.enabled else [])
        levels = max([len(self.dunning.steps)] + [len(steps) for steps in own if steps])
        for i, fee in enumerate(self.fees.levels):
            if fee.level > levels:
                raise ValueError(f"fees.levels.{i}.level: dunning level {fee.level} does not exist (the longest cadence "
                                 f"has {levels} levels)")
        blocks = [(f"payment_runs.rules.{i}.segments", r.segments) for i, r in enumerate(self.payment_runs.rules)]
        for where, segments in blocks + [("credit_holds.segments", self.credit_holds.segments)]:
            unknown = [s for s in segments if s not in names]
            if unknown:
                raise ValueError(f"{where}: unknown segment(s) {unknown}; expected some of {names}")
        return self

    @model_validator(mode="after")
    def _check_teams(self) -> "Scenario":
        if self.teams.enabled:
            check_teams(self.teams, [s.name for s in self.portfolio.segments])
            if self.team.collectors != self.teams.headcount():
                self.team.collectors = self.teams.headcount()  # with teams on, the head count is the teams'
        if self.queries.enabled:
            check_queries(self.queries, [s.name for s in self.portfolio.segments])
        if self.currencies.enabled:
            check_currencies(self.currencies, [s.name for s in self.portfolio.segments], self.currency,
                             self.start_date - dt.timedelta(days=self.warmup_days))
        return self

    def to_yaml(self) -> str:
        """The resolved scenario as YAML (every default written out)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def with_overrides(self, overrides: dict[str, Any] | list[str] | None) -> "Scenario":
        """A new scenario with dotted-path overrides applied (see :func:`apply_overrides`)."""
        if not overrides:
            return self
        data = apply_overrides(self.model_dump(mode="json"), overrides)
        return from_dict(data, source=f"scenario {self.name!r} with overrides {merge_overrides(overrides)}")


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
    check_segment_shares("teams.languages", teams.languages, segments, "language")
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
        _known_keys(where, shares, QUERY_REASONS, "query reason")
        _shares_sum_to_one(shares, f"field '{where}': reason shares")

    reasons_of("queries.reasons", q.reasons)
    for seg, shares in q.segment_reasons.items():
        if seg not in segments:
            raise ValueError(f"field 'queries.segment_reasons.{seg}': unknown segment; expected one of {segments}")
        reasons_of(f"queries.segment_reasons.{seg}", shares)
    for name in ("reason_scale", "resolution_days"):
        _known_keys(f"queries.{name}", getattr(q, name), QUERY_REASONS, "query reason")
    for reason in QUERY_REASONS:
        mix = q.outcomes.get(reason)
        if mix is None:
            raise ValueError(f"field 'queries.outcomes': no outcome shares for reason {reason!r}")
        _known_keys(f"queries.outcomes.{reason}", mix, QUERY_OUTCOMES, "outcome")
        _shares_sum_to_one(mix, f"field 'queries.outcomes.{reason}': outcome shares")
    names = [c.name for c in q.channels]
    if len(set(names)) != len(names):
        raise ValueError(f"field 'queries.channels': channel names must be unique, got {names}")


def _known_keys(where: str, keys, allowed: tuple[str, ...], what: str) -> None:
    """ValueError naming the field when ``keys`` holds names outside ``allowed``."""
    unknown = sorted(set(keys) - set(allowed))
    if unknown:
        raise ValueError(f"field '{where}': unknown {what}(s) {unknown}; expected some of {', '.join(allowed)}")


def check_segment_shares(where: str, by_segment: dict[str, dict[str, float]], segments: list[str], what: str) -> None:
    """Each key of ``by_segment`` is a segment and its ``what`` shares sum to 1 (ValueError naming the field)."""
    for seg, shares in by_segment.items():
        if seg not in segments:
            raise ValueError(f"field '{where}.{seg}': unknown segment; expected one of {segments}")
        _shares_sum_to_one(shares, f"field '{where}.{seg}': {what} shares")


def check_currencies(cur: Currencies, segments: list[str], reporting: str, first_day: dt.date) -> None:
    """Reject a currency set-up the simulation cannot convert, naming the field (as ValueError inside validation)."""
    check_segment_shares("currencies.accounts", cur.accounts, segments, "currency")
    for seg, shares in cur.accounts.items():
        for code, share in shares.items():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"field 'currencies.accounts.{seg}.{code}': expected a three-letter ISO 4217 code such as USD")
            if share <= 0 or code == reporting:
                continue
            check_fx_rates(cur, code, reporting, first_day, f"segment {seg!r} bills in")


def check_fx_rates(cur: Currencies, code: str, reporting: str, first_day: dt.date, used: str) -> None:
    """ValueError naming ``currencies.rates.<code>`` when the FX table has no rate for ``code`` (which
    ``used`` describes) on or before the first simulated day."""
    if code not in cur.rates or not cur.rates[code]:
        raise ValueError(f"field 'currencies.rates.{code}': the FX table has no rates for {code}, which {used}; "
                         f"expected currencies.rates.{code}: {{{first_day.isoformat()}: <value of one {code} in {reporting}>, ...}}")
    earliest = min(cur.rates[code])
    if earliest > first_day:
        raise ValueError(f"field 'currencies.rates.{code}': the FX table has no {code} rate on or before "
                         f"{first_day.isoformat()}, the first simulated day (start_date − warmup_days); its first "
                         f"date is {earliest.isoformat()}. Add a rate dated {first_day.isoformat()} or earlier")


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
        elif e["type"] in ("less_than_equal", "less_than") and str(e["loc"][-1]) in LIMITS:
            msg += f" ({LIMITS[str(e['loc'][-1])][1]})"
        elif e["type"] == "finite_number":
            msg = "expected a finite number, not NaN or infinity"
        if not e["loc"] and msg.startswith("field '"):
            parts.append(msg)  # a cross-section check names its own field
            continue
        field, sep, rest = msg.partition(": ")
        if not e["loc"] and sep and re.fullmatch(r"[a-z_0-9.]+", field):  # a cross-field check names its field
            parts.append(f"field '{field}': {rest}")
            continue
        got = repr(e.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."
        parts.append(f"field '{loc}': {msg} (got {got})" if e["type"] != "missing" else f"field '{loc}': {msg}")
    return "; ".join(parts[:10]) + (f"; and {len(parts) - 10} more" if len(parts) > 10 else "")


def from_dict(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a plain dict as a :class:`Scenario`, raising :class:`UserError` naming the bad fields."""
    from o2c_sim import uncertainty

    if not isinstance(data, dict):
        raise UserError(f"expected a mapping of scenario keys at the top level, got {type(data).__name__}", source=source)
    data = uncertainty.extract(data, apply=apply_overrides, complete=_written_out, source=source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise UserError(_format_validation_error(err), source=source) from None
    check_uncertain(scenario, source=source)
    return scenario


def _written_out(body: dict) -> dict:
    """``body`` with every field the file leaves at its default written out; ``body`` unchanged if it
    is not valid (the schema names the problem later)."""
    try:
        return Scenario.model_validate(body).model_dump(mode="json", exclude={"uncertain"})
    except (ValidationError, ValueError, TypeError):
        return body


def check_uncertain(scenario: Scenario, *, source: str | None = None) -> None:
    """Both ends of every uncertain parameter's drawable range must be values the schema accepts."""
    from o2c_sim.uncertainty import EPS, distributions

    base = {**scenario.model_dump(mode="json"), "uncertain": {}}
    for path, dist in distributions(scenario).items():
        for q in (EPS, 1 - EPS):
            value = dist.ppf(q)
            try:
                from_dict(apply_overrides(base, {path: value}), source=None)
            except UserError as err:
                raise UserError(f"field 'uncertain.{path}': the {dist.dist} distribution reaches {value:.4g} at its "
                                f"{q:.4%} quantile, which the field does not accept ({err}). Use a bounded "
                                "distribution (beta for a probability, lognormal or gamma for a positive value) "
                                "or a smaller sd", source=source) from None


def with_values(scenario: Scenario, values) -> Scenario:
    """A fixed-value scenario: ``values`` (dotted path → value) applied, no distributions left."""
    data = {**scenario.model_dump(mode="json"), "uncertain": {}}
    return from_dict(apply_overrides(data, dict(values)) if values else data, source=f"scenario {scenario.name!r}")


def at_means(scenario: Scenario) -> Scenario:
    """The scenario with every uncertain parameter fixed at its mean (the stochastic-only model)."""
    return with_values(scenario, {}) if scenario.uncertain else scenario


MAX_YAML_NODES = 100_000  # values in a YAML file once its aliases are expanded (a scenario has a few hundred)
MAX_YAML_BYTES = 5_000_000


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (YAML 1.2 forbids it; PyYAML
    would silently keep the last)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.setdefault(key, key_node.start_mark.line)
            except TypeError:  # an unhashable key: PyYAML reports it itself
                continue
            if first != key_node.start_mark.line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given on line {first + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:  # 2024-02-30: a date-shaped value that is no date
            raise yaml.constructor.ConstructorError(None, None, f"{node.value!r} is not a valid date ({exc})",
                                                    node.start_mark) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Values in the document once every alias is expanded (aliases share nodes; memoised)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise ValueError("recursive alias")
    active.add(key)
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, active) + _expanded_size(v, memo, active) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, active) for v in node.value)
    else:
        size = 1
    active.discard(key)
    memo[key] = min(size, MAX_YAML_NODES + 1)
    return memo[key]


def safe_load_text(text: str, source: str | None = None) -> Any:
    """``yaml.safe_load`` that refuses duplicate keys, alias bombs (more than :data:`MAX_YAML_NODES`
    values once expanded, checked before anything is built) and recursive aliases."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {}, set())
        except ValueError:
            raise UserError("a YAML alias refers to itself; aliases must not be recursive", source=source) from None
        if size > MAX_YAML_NODES:
            raise UserError(f"the YAML expands to more than {MAX_YAML_NODES:,} values through its aliases (&/*); "
                            "a scenario needs a few hundred — refused", source=source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning every I/O and syntax problem into a :class:`UserError`."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_YAML_BYTES:
            raise UserError(f"is larger than {MAX_YAML_BYTES // 1_000_000} MB; expected a small YAML file", source=str(path))
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError("file not found; expected a YAML file (try one of scenarios/*.yaml)", source=str(path)) from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise UserError(f"cannot be read: {exc.strerror or exc}", source=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UserError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8",
                        source=str(path)) from None
    try:
        return safe_load_text(text, str(path))
    except RecursionError:
        raise UserError("the YAML is nested too deeply", source=str(path)) from None
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
    from o2c_sim.settings import scenario_path

    resolved = scenario_path(path)
    data = read_scenario_data(Path(resolved))
    scenario = from_dict(data, source=str(resolved))
    if not overrides:
        return scenario
    resolved_data = apply_overrides(scenario.model_dump(mode="json"), overrides, source=str(resolved))
    return from_dict(resolved_data, source=f"{resolved} (with overrides {merge_overrides(overrides)})")


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
        value = safe_load_text(raw) if raw else None
    except (yaml.YAMLError, RecursionError):
        value = raw
    except UserError as err:
        raise UserError(f"override '{key}': {err}") from None
    return key, value


def _is_relative(value: Any) -> bool:
    if not (isinstance(value, str) and value[:1] in "+-"):
        return False
    try:
        float(value)
        return True
    except ValueError:
        return False


def override_pairs(overrides: dict[str, Any] | list[str] | tuple[str, ...] | None) -> list[tuple[str, Any]]:
    """Overrides as (dotted path, value) pairs in the order given; a path may repeat."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    if isinstance(overrides, str):
        return [parse_override(overrides)]
    return [o if isinstance(o, tuple) else parse_override(o) for o in overrides]


def merge_overrides(overrides: dict[str, Any] | list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """One value per path with the effect of applying the overrides in order: a repeated path's relative
    value adds to the one before it (``["team.collectors=10", "team.collectors=+1"]`` → ``{…: 11}``,
    ``+1`` then ``+2`` → ``"+3"``); an absolute value replaces it."""
    out: dict[str, Any] = {}
    for key, value in override_pairs(overrides):
        if key in out and _is_relative(value):
            prev = out[key]
            if _is_relative(prev):
                total = float(prev) + float(value)
                value = f"{total:+g}" if total else "+0"
            elif isinstance(prev, (int, float)) and not isinstance(prev, bool):
                value = _relative(value, prev, key)
        out[key] = value
    return out




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
    from o2c_sim import uncertainty

    result = copy.deepcopy(data)
    pairs = override_pairs(overrides)
    for path, value in pairs:  # in order: a repeated path applies twice
        if not isinstance(path, str):
            raise UserError(f"override {path!r}: expected a dotted path such as team.collectors", source=source)
        parts = path.split(".")
        if not all(parts):
            raise UserError(f"override '{path}': empty part in dotted path", source=source)
        if _through_default_list(result, parts, path):  # e.g. a list only the defaults hold, in a replaced segment
            result = {**_written_out(result), **({"uncertain": result["uncertain"]} if "uncertain" in result else {})}
        node: Any = result
        for i, part in enumerate(parts):
            container, key = _child(node, part, path)
            last = i == len(parts) - 1
            if last:
                relative = isinstance(value, str) and value[:1] in "+-"
                if relative and isinstance(container, dict) and container and key not in container:
                    raise UserError(_unknown_key(path, key, container), source=source)  # (the schema names other unknown keys)
                current = container.get(key) if isinstance(container, dict) else container[key]
                container[key] = copy.deepcopy(_relative(value, current, path))  # the caller's value stays theirs
                uncertainty.forget(result, path)  # a value set explicitly is no longer uncertain
            else:
                if isinstance(container, dict) and key not in container:
                    container[key] = {}
                node = container[key]
    if any(path == "team.collectors" for path, _ in pairs):
        _collectors_to_desks(result, [path for path, _ in pairs], source)
    return result


def _collectors_to_desks(data: dict, paths: list[str], source: str | None) -> None:
    """With teams on, an override of ``team.collectors`` to N sets the desks' head counts in proportion
    to their present ones (largest remainder, at least one per desk); a desk listing its collectors
    one by one keeps their language profiles in order, repeated or cut to its new size. Combined
    with an override of a desk's own ``collectors`` it is ambiguous and refused."""
    teams = data.get("teams") or {}
    desks = teams.get("desks") or []
    if not teams.get("enabled") or not desks:
        return
    mixed = [p for p in paths if p.startswith("teams.desks.") and p.endswith(".collectors")]
    if mixed:
        raise UserError(f"override 'team.collectors' with teams on sets every desk's head count in proportion; it cannot "
                        f"be combined with {mixed[0]!r}: set either the total or each teams.desks.<name>.collectors",
                        source=source)
    total = data.get("team", {}).get("collectors")
    sizes = [d.get("collectors", 1) if isinstance(d.get("collectors", 1), int) else len(d["collectors"]) for d in desks]
    staffed = [i for i, n in enumerate(sizes) if n > 0]
    if not isinstance(total, int) or isinstance(total, bool) or not staffed:
        return  # the schema names a bad value
    if total < len(staffed):
        raise UserError(f"override 'team.collectors={total}': with teams on the total is shared among the "
                        f"{len(staffed)} staffed desks ({', '.join(desks[i]['name'] for i in staffed)}), each needing at least "
                        "one collector; set teams.desks.<name>.collectors for each desk instead", source=source)
    new = _apportion(total, [sizes[i] for i in staffed])
    for i, n in zip(staffed, new):
        desks[i]["collectors"] = resized_collectors(desks[i].get("collectors", 1), n)


def resized_collectors(people: int | list, n: int) -> int | list:
    """A desk's ``collectors`` at head count ``n``: the number, or the collectors listed one by one with
    their language profiles kept in order, repeated or cut to ``n``."""
    return n if isinstance(people, int) or not people else [people[j % len(people)] for j in range(n)]


def _apportion(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainder (Hamilton), every share at least 1.

    >>> _apportion(30, [3, 16, 6])
    [4, 19, 7]
    >>> _apportion(25, [3, 16, 6])
    [3, 16, 6]
    """
    quota = [total * w / sum(weights) for w in weights]
    share = [max(1, int(q)) for q in quota]
    order = sorted(range(len(weights)), key=lambda i: (share[i] - quota[i], i))  # furthest below its quota first
    while sum(share) < total:
        i = order.pop(0)
        share[i] += 1
    while sum(share) > total:  # the minimum of one took seats: give them back from the most over quota
        i = max((j for j in range(len(share)) if share[j] > 1), key=lambda j: share[j] - quota[j])
        share[i] -= 1
    return share


def _through_default_list(data: dict, parts: list[str], path: str) -> bool:
    """Whether ``path`` indexes into a list that ``data`` leaves at its default (absent), so that the
    defaults must be written out before an item of it can be set."""
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        try:
            container, key = _child(node, part, path)
        except UserError:
            return False
        if isinstance(container, dict) and key not in container:
            return any(p.isdigit() for p in parts[i + 1:])
        node = container[key]
    return False


def _unknown_key(path: str, key: str, container: dict) -> str:
    import difflib

    close = difflib.get_close_matches(key, [str(k) for k in container], n=1)
    hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of {', '.join(map(str, container))}"
    return f"field '{path}': unknown key (in an override){hint}"


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
