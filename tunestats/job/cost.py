"""Cost: what tuning on a dataset would cost, estimated from Google's list prices.

billable tokens x epochs x the model's price per million training tokens. The prices are a
small dated table, :data:`LIST_PRICES`, each with the page it was read from; a model whose
price could not be found is left out, and ``--price-per-million`` gives any price. Without
``--epochs`` the cost is given per epoch: Vertex chooses the epoch count from the dataset's
size and its documentation gives no number (CHOICES.md, "Cost").

Hands to the reports: a :class:`Cost` (figures and one sentence that says it is an estimate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ListPrice:
    usd_per_million: float  # per 1M training tokens
    date: str  # when the page was read (it shows no date of its own)
    url: str


# Google's "Vertex AI pricing" page, as the search tool stores it (its Spanish edition: no
# English copy with the tuning rows was stored): "Perfeccionamiento* | Token de entrenamiento |
# 8 USD/millones de tokens" for Gemini 1.5 Flash. No other tuning price was found on a Google
# page (2.x, 3.x, 1.5 Pro, 1.0 Pro, open models): those models are left out.
_PRICING_PAGE = "https://cloud.google.com/vertex-ai/generative-ai/pricing?hl=es"
LIST_PRICES: dict[str, ListPrice] = {
    name: ListPrice(8.0, "2026-12-02", _PRICING_PAGE)
    for name in ("gemini-1.5-flash", "gemini-1.5-flash-001", "gemini-1.5-flash-002")
}

EPOCHS_NOTE = (
    "Vertex chooses the number of epochs from the dataset's size when none is given "
    "(its tuning API reference gives no number): give --epochs N for the total"
)


@dataclass(frozen=True)
class Cost:
    text: str  # one sentence, always present
    amount: float | None  # USD for the whole job, when the epochs are known
    per_epoch: float | None
    price: float | None  # USD per 1M training tokens
    price_date: str | None
    price_url: str | None
    price_origin: str | None  # "list" or "user"
    epochs: int | None
    epochs_note: str | None
    training_tokens: int | None  # billable tokens x epochs


def estimate(
    model: str, billable_tokens: int, epochs: int | None, price_per_million: float | None = None
) -> Cost:
    """The cost of tuning ``model`` on a training set of ``billable_tokens`` (one epoch)."""
    listed = LIST_PRICES.get(model)
    if price_per_million is not None:
        price, date, url, origin = price_per_million, None, None, "user"
        basis = f"estimate, at --price-per-million {_usd(price)}"
    elif listed is not None:
        price, date, url, origin = listed.usd_per_million, listed.date, listed.url, "list"
        basis = f"estimate, list price of {date}: {_usd(price)} per 1M training tokens"
    else:
        text = (
            f"no list price known for {model}; give --price-per-million X (USD per 1M "
            "training tokens) for an estimate"
        )
        return Cost(text, None, None, None, None, None, None, epochs, None, None)
    per_epoch = billable_tokens * price / 1_000_000
    if epochs is None:
        text = f"{_usd(per_epoch)} per epoch ({billable_tokens:,} training tokens; {basis})"
        return Cost(text, None, per_epoch, price, date, url, origin, None, EPOCHS_NOTE, None)
    tokens = billable_tokens * epochs
    amount = tokens * price / 1_000_000
    text = (
        f"{_usd(amount)} for {epochs} epoch{'s' if epochs != 1 else ''} "
        f"({billable_tokens:,} x {epochs} = {tokens:,} training tokens; {basis})"
    )
    return Cost(text, amount, per_epoch, price, date, url, origin, epochs, None, tokens)


def _usd(amount: float) -> str:
    """Cents; below a cent, two significant digits (never a price that rounds to $0.00)."""
    if amount >= 0.01 or amount == 0:
        return f"${amount:,.2f}"
    digits = max(2, -math.floor(math.log10(amount)) + 1)
    return f"${amount:.{digits}f}"
