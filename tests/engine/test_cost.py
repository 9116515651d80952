"""Cost (issue 12): billable tokens x epochs x price per 1M training tokens, by hand."""

from __future__ import annotations

import pytest

from tunestats import compute
from tunestats.cli import main
from tunestats.job.cost import EPOCHS_NOTE, LIST_PRICES, estimate

from ..conftest import write_jsonl


def test_the_arithmetic_by_hand():
    # 123,456 tokens x 3 epochs = 370,368 training tokens; at $8 per 1M: $2.962944
    cost = estimate("gemini-1.5-flash-002", 123_456, 3)
    assert cost.training_tokens == 370_368
    assert cost.amount == pytest.approx(2.962944, abs=1e-12)
    assert cost.per_epoch == pytest.approx(0.987648, abs=1e-12)
    date = LIST_PRICES["gemini-1.5-flash-002"].date
    assert cost.text == (
        "$2.96 for 3 epochs (123,456 x 3 = 370,368 training tokens; estimate, list price of "
        f"{date}: $8.00 per 1M training tokens)"
    )
    assert cost.price_origin == "list" and cost.price_url.startswith("https://cloud.google.com/")


def test_a_price_given_overrides_the_list():
    cost = estimate("gemini-2.5-flash", 2_000_000, 2, price_per_million=5.0)
    assert cost.amount == 20.0 and cost.price_origin == "user"
    assert cost.text == (
        "$20.00 for 2 epochs (2,000,000 x 2 = 4,000,000 training tokens; estimate, at "
        "--price-per-million $5.00)"
    )


def test_without_epochs_the_cost_is_per_epoch():
    cost = estimate("gemini-1.5-flash", 1_000_000, None)
    assert cost.amount is None and cost.per_epoch == 8.0
    assert cost.text.startswith(
        "$8.00 per epoch (1,000,000 training tokens; estimate, list price of "
    )
    assert cost.epochs_note == EPOCHS_NOTE


def test_a_model_without_a_list_price_says_so():
    cost = estimate("gemini-2.5-flash", 1000, 3)
    assert cost.amount is None and cost.per_epoch is None
    assert cost.text == (
        "no list price known for gemini-2.5-flash; give --price-per-million X (USD per 1M "
        "training tokens) for an estimate"
    )


def test_every_list_price_is_dated_and_sourced():
    for model, price in LIST_PRICES.items():
        assert price.usd_per_million > 0 and len(price.date) == 10, model
        assert price.url.startswith("https://cloud.google.com/"), model


def test_the_report_shows_the_cost_of_the_training_set(tmp_path, capsys):
    rows = [
        {
            "contents": [
                {"role": "user", "parts": [{"text": "a b c"}]},
                {"role": "model", "parts": [{"text": "d"}]},
            ]
        }
    ] * 20
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    stats = compute(str(path), tokenizer="cl100k_base", epochs=4, price_per_million=2.5)
    billable = stats.training.result.billable_tokens
    assert stats.cost.amount == billable * 4 * 2.5 / 1_000_000
    argv = ["stats", str(path), "--tokenizer", "cl100k_base", "--quiet", "--epochs", "4"]
    assert main([*argv, "--price-per-million", "2.5"]) == 0
    assert f"  cost: {stats.cost.text}" in capsys.readouterr().out
    assert main([*argv, "--price-per-million", "-1"]) == 2
    assert "price_per_million must be a number of USD >= 0" in capsys.readouterr().err
