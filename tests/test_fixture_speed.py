"""What makes the fixture's per-test cost small keeps behaviour identical.

- Ids are drawn in bulk (``mockdrive.model.ids.draw``) yet are the very characters
  ``random.choice`` one by one gave, and leave the generator where it left it: the ids of every
  seed and every saved scenario stay as they were.
- Scenario reading, building and exporting pause the cyclic garbage collector (a quarter of a
  100,000-item load and export's CPU) and always resume it.
"""

from __future__ import annotations

import copy
import gc
import random

import pytest

from mockdrive.cli import default_state
from mockdrive.model.ids import _BASE32, _URLSAFE, IdFactory, draw
from mockdrive.scenario import ScenarioError, dump_yaml, export_scenario, load_scenario_text
from mockdrive.scenario.load import collector_paused


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


# -- scenario I/O pauses the cyclic collector, and always resumes it -----------------------------
def test_a_deep_copy_of_a_state_generates_the_same_ids_and_asks_its_own_store():
    """``IdFactory.__deepcopy__`` hands the generator's state over whole (copying a
    ``random.Random`` word by word was most of a small state's copy): the twin draws the ids
    the original draws next, and its ``taken`` and reservations are its own."""
    state = default_state("t")
    state.ids.reserve(["reserved-id"])
    for _ in range(3):
        state.ids.item_id()
    twin = copy.deepcopy(state)
    assert twin.ids is not state.ids and twin.ids.position() == state.ids.position()
    assert [twin.ids.guid() for _ in range(3)] == [state.ids.guid() for _ in range(3)]
    owner = twin.directory.by_token("t")
    item = twin.make_path(twin.default_drive(owner.id), "/Only in the twin", is_folder=True)
    assert twin.ids.in_use(item.id) and not state.ids.in_use(item.id)
    twin.ids.reserve(["twin-only-id"])
    assert twin.ids.in_use("reserved-id") and not state.ids.in_use("twin-only-id")


def test_the_collector_is_on_again_after_a_load_an_export_and_a_refused_scenario():
    state = load_scenario_text("users: [{displayName: A, email: a@x.example}]\ndrives: []\n")
    assert gc.isenabled()
    assert "a@x.example" in dump_yaml(export_scenario(state))
    assert gc.isenabled()
    with pytest.raises(ScenarioError):
        load_scenario_text("users: [{displayName: A}]\n")
    assert gc.isenabled()
    with pytest.raises(ScenarioError):
        load_scenario_text("users: [\n")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        load_scenario_text("users: []\ndrives: []\n")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_paused_while_scenario_data_is_built():
    seen = []
    with collector_paused():
        seen.append(gc.isenabled())
    assert seen == [False] and gc.isenabled()
