"""bot/providers/answers.py: how much of a successful answer is read.

Models come from the catalogue by what they can do (tests/catalogue_helpers.py), never named here.
"""

from __future__ import annotations

from dataclasses import replace

from bot.models import ImageOptions
from bot.providers.answers import answer_cap
from tests.catalogue_helpers import caps, default_model, live

OPTIONS = ImageOptions(model=default_model())


def test_the_answer_cap_is_well_above_the_largest_picture_any_model_makes() -> None:
    mib = 1024 * 1024
    largest = max(caps(m).sizes.max_pixels for m in live())
    assert answer_cap(OPTIONS) == 49 * mib > largest * 4 * 4 / 3  # raw RGBA, as base64
    assert answer_cap(replace(OPTIONS, n=3)) == 3 * 48 * mib + mib
    assert answer_cap(replace(OPTIONS, output_format="gif", frames=16)) == 16 * 12 * mib + mib
    assert answer_cap(replace(OPTIONS, output_format="gif")) == answer_cap(replace(OPTIONS, output_format="gif",
                                                                                   frames=16))
    assert answer_cap(replace(OPTIONS, output_format="gif", frames=2)) == 49 * mib
