"""What makes the fixture's per-test cost small keeps behaviour identical.

- Ids are drawn in bulk (``mockdrive.model.ids.draw``) yet are the very characters
  ``random.choice`` one by one gave, and leave the generator where it left it: the ids of every
  seed and every saved scenario stay as they were.
"""

from __future__ import annotations

import random

import pytest

from mockdrive.model.ids import _BASE32, _URLSAFE, IdFactory, draw


def one_by_one(rng: random.Random, alphabet: str, count: int) -> str:
    """How the ids were drawn before: one ``choice`` per character."""
    return "".join(rng.choice(alphabet) for _ in range(count))


@pytest.mark.parametrize("alphabet", [_BASE32, _URLSAFE, "abc", "0123456789", "x"])
def test_draw_gives_the_characters_choice_gives_and_the_same_generator_state(alphabet):
    for seed in range(200):
        old, new = random.Random(seed), random.Random(seed)
        for count in (1, 2, 7, 16, 32, 40):
            assert draw(new, alphabet, count) == one_by_one(old, alphabet, count), (seed, count)
            assert new.getstate() == old.getstate()
            # interleaved with the other draws an IdFactory makes (GUIDs)
            assert new.getrandbits(128) == old.getrandbits(128)


def test_an_id_factory_hands_out_the_ids_it_always_did():
    """The first ids of seed 0, as the one-by-one generator made them."""
    rng = random.Random(0)
    expected_guid = f"{rng.getrandbits(128):032x}"
    expected_item = "01" + one_by_one(rng, _BASE32, 32)
    expected_drive = "b!" + one_by_one(rng, _URLSAFE, 40)
    expected_token = one_by_one(rng, _URLSAFE, 32)
    ids = IdFactory(0)
    assert ids.guid().replace("-", "") == expected_guid
    assert ids.item_id() == expected_item
    assert ids.drive_id() == expected_drive
    assert ids.token() == expected_token
