"""Scaling, in-process: invite on a huge folder vs a leaf, permissions by depth, memory per
item, scenario load and demo generation by size.

- invite (2 recipients, parse + model + render) on a folder with 1,000,000 descendants, against
  the same invite on a leaf file (target: within 1.2x);
- list permissions (access check + model + render + JSON) at depth 1, 10 and 50, against
  depth 1 (target: <= 0.2 ms at depth 50);
- memory per item at 1,000,000 items (tracemalloc; RSS delta beside it), against a bare dict
  record per item in a dict by id (target: <= 1 KiB);
- demo generation and scenario load at 10k and 100k items, against the 10k figure (linear
  means a ratio of 10; target: 100k demo generated and loaded in <= 5 s);
- scenario text: a 10,000-item YAML scenario loaded (parse + schema + build, which is what
  ``mockdrive validate`` does; target <= 0.25 s), a 100,000-item state exported as YAML
  (target <= 1.5 s), and a
  100,000-item YAML scenario loaded and exported back to back (target <= 4.5 s), against the
  same in JSON in the same run, with PyYAML's libyaml loader/dumper beside them for reference;
  wall time, with the CPU time in the JSON results (``cpu_s``).

Usage: ``python benchmarks/scaling.py [--quick] [--items N] [--text-only]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

try:
    from . import _common as common
except ImportError:  # run as a script
    import _common as common

from mockdrive.api import invites
from mockdrive.api.graph.permissions import list_permissions
from mockdrive.api.graph.render import OWNER_VIEW, render_permission
from mockdrive.api.jsonio import fast_json_response
from mockdrive.model import sharing
from mockdrive.model.permissions import require_role
from mockdrive.model.state import State
from mockdrive.model.tree import Item

INVITES = [
    {
        "recipients": [{"email": "carol@contoso.example"}, {"email": "dave@fabrikam.example"}],
        "roles": ["read"],
        "sendInvitation": False,
    },
    {
        "recipients": [{"email": "erin@contoso.example"}, {"email": "frank@fabrikam.example"}],
        "roles": ["write"],
        "sendInvitation": False,
    },
]


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def new_state() -> tuple[State, Any, Any]:
    state = State(seed=1)
    owner = state.add_user("Ada Owner", "ada@contoso.example", token="t")
    for name in ("Carol", "Erin"):
        state.add_user(name, f"{name.lower()}@contoso.example")
    return state, owner, state.add_drive(owner)


def grow(state: State, parent: Item, descendants: int, fanout: int = 1000) -> None:
    """``descendants`` items under ``parent``: folders of ``fanout - 1`` files each.

    Built straight through the model (``DriveStore.attach``) with cheap unique ids, names and
    timestamps, as a scenario load would, minus the validation and the YAML.
    """
    attach, owner = state.store.attach, parent.created_by
    n, folder_no = 0, 0
    while n < descendants:
        folder_no += 1
        stamp = f"2024-01-01T00:00:{folder_no % 60:02}Z"
        folder = Item(
            f"01F{folder_no:031d}",
            parent.drive_id,
            f"Folder {folder_no:05}",
            parent.id,
            True,
            stamp,
            stamp,
            owner,
            owner,
            children={},
        )
        attach(parent, folder)
        n += 1
        for _ in range(min(fanout - 1, descendants - n)):
            n += 1
            when = f"2024-01-02T{n % 24:02}:{n % 60:02}:{n % 59:02}Z"
            attach(
                folder,
                Item(
                    f"01I{n:031d}",
                    parent.drive_id,
                    f"Document {n:07}.docx",
                    folder.id,
                    False,
                    when,
                    when,
                    owner,
                    owner,
                    size=n % 90_000,
                    mime_type="application/vnd.openxmlformats-officedocument",
                ),
            )


def time_invites(state: State, owner: Any, item: Item, count: int) -> float:
    """Seconds per invite: parse the body, run the model, render the answer."""
    started = time.perf_counter()
    for n in range(count):
        request = invites.parse_invite_body(dict(INVITES[n % 2]))
        result = sharing.invite(state, owner, item, request)
        [render_permission(state, OWNER_VIEW, sharing_entry(o)) for o in result.outcomes]
    return (time.perf_counter() - started) / count


def sharing_entry(outcome: Any) -> Any:
    from mockdrive.model.permissions import EffectivePermission

    return EffectivePermission(outcome.permission)


def bench_invite(descendants: int, rounds: int, count: int) -> list[dict]:
    state, owner, drive = new_state()
    big = state.make_path(drive, "/Big")
    leaf = state.make_path(drive, "/Small/Leaf.docx", is_folder=False, content=b"x")
    started = time.perf_counter()
    grow(state, big, descendants)
    built = time.perf_counter() - started
    big_times, leaf_times = [], []
    for _ in range(rounds):  # interleaved
        big_times.append(time_invites(state, owner, big, count))
        leaf_times.append(time_invites(state, owner, leaf, count))
    big_us, leaf_us = common.median(big_times) * 1e6, common.median(leaf_times) * 1e6
    return [
        common.row(
            f"invite on a folder with {descendants:,} descendants",
            big_us,
            "µs",
            "invite on a leaf file",
            leaf_us,
            "≤ 1.2x leaf",
            big_us <= 1.2 * leaf_us,
            tree_build_s=built,
        )
    ]


def bench_depth(depths: tuple[int, ...], count: int) -> list[dict]:
    state, owner, drive = new_state()
    deepest = max(depths)
    names = [f"L{n}" for n in range(1, deepest)]  # depth 50 within the 400-character path limit
    leaf = state.make_path(drive, "/" + "/".join(names) + "/Deep.docx", is_folder=False)
    chain = [leaf, *state.store.ancestors(leaf)]  # leaf, its parent, ... root
    users = [state.add_user(f"U{n}", f"u{n}@contoso.example") for n in range(deepest)]
    for item in chain[:-1]:
        if item.depth % 10 == 5:  # a grant every 10 levels: 5 inherited at depth 50
            state.grant(item, users[item.depth], ["read"])
    by_depth = {item.depth: item for item in chain}
    times = {}
    for depth in depths:
        item = by_depth[depth]
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(count):
                require_role(state.store, owner, item, "read")
                fast_json_response({"value": list_permissions(state, OWNER_VIEW, item)})
            samples.append((time.perf_counter() - started) / count)
        times[depth] = common.median(samples) * 1000
    rows = []
    for depth in depths:
        entries = len(list_permissions(state, OWNER_VIEW, by_depth[depth]))
        target = "≤ 0.2 ms" if depth == deepest else ""
        rows.append(
            common.row(
                f"list permissions at depth {depth} ({entries} entries)",
                times[depth],
                "ms",
                f"depth {depths[0]}",
                times[depths[0]],
                target,
                times[depth] <= 0.2 if target else None,
            )
        )
    return rows


def bench_memory(items: int) -> list[dict]:
    gc.collect()
    tracemalloc.start()
    rss_before = rss_bytes()
    state, _, drive = new_state()
    grow(state, state.make_path(drive, "/Big"), items)
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    rss = rss_bytes() - rss_before
    tracemalloc.stop()
    del state
    gc.collect()
    tracemalloc.start()
    records: dict[str, dict] = {}
    for n in range(items):
        records[f"01I{n:031d}"] = {
            "id": f"01I{n:031d}",
            "name": f"Document {n:07}.docx",
            "parentId": "01F0",
            "size": n % 90_000,
        }
    bare = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del records
    per_item, bare_per_item = traced / items, bare / items
    return [
        common.row(
            f"memory per item at {items:,} items (tracemalloc)",
            per_item,
            "bytes",
            "bare dict record per item",
            bare_per_item,
            "≤ 1024 bytes",
            per_item <= 1024,
            rss_delta_per_item=rss / items,
        )
    ]


def bench_demo(sizes: tuple[int, ...]) -> list[dict]:
    """Faker demo data generated and built; YAML text is bench_scenario_text's (median of 3)."""
    from mockdrive.demo import demo_scenario
    from mockdrive.scenario import build_state

    figures: dict[str, dict[int, float]] = {"generate": {}, "build": {}, "total": {}}
    for size in sizes:
        started = time.perf_counter()
        data = demo_scenario(seed=1, users=200, items=size)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        state = build_state(data)
        built = time.perf_counter() - started
        figures["generate"][size], figures["build"][size] = generated, built
        figures["total"][size] = generated + built
        del state, data
    labels = {
        "generate": "demo generation (Faker → scenario data)",
        "build": "scenario load from data (validate refs + build State)",
        "total": "demo generated and loaded (demo_state)",
    }
    rows, small = [], sizes[0]
    for key, label in labels.items():
        for size in sizes:
            target = "≤ 5 s at 100k" if key == "total" and size == max(sizes) else ""
            rows.append(
                common.row(
                    f"{label}, {size:,} items",
                    figures[key][size],
                    "s",
                    f"same at {small:,} items" if size != small else "",
                    figures[key][small] if size != small else None,
                    target,
                    figures[key][size] <= 5.0 if target and size >= 100_000 else None,
                )
            )
    return rows


def _median_time(action: Any, rounds: int) -> tuple[float, float]:
    """Median wall and median CPU seconds (``time.process_time``) of ``rounds`` calls."""
    walls, cpus = [], []
    for _ in range(rounds):
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return common.median(walls), common.median(cpus)


def bench_scenario_text(load_items: int, export_items: int, rounds: int = 3) -> list[dict]:
    """YAML scenario load and export against JSON (and PyYAML/libyaml) in the same run; the
    big size loaded and exported back to back (targets: the small load, which is what
    ``mockdrive validate`` does, ≤ 0.25 s; the big load + export ≤ 4.5 s)."""
    import json

    import yaml

    from mockdrive.demo import demo_scenario
    from mockdrive.scenario import build_state, dump_yaml, export_scenario, load_scenario_text

    small = export_scenario(build_state(demo_scenario(seed=1, users=200, items=load_items)))
    yaml_text, json_text = dump_yaml(small), json.dumps(small)
    loaders = {
        "yaml": lambda: load_scenario_text(yaml_text),
        "json": lambda: load_scenario_text(json_text),
        "libyaml": lambda: yaml.load(yaml_text, Loader=yaml.CSafeLoader),
    }
    load = {key: _median_time(action, rounds) for key, action in loaders.items()}
    del small
    state = build_state(demo_scenario(seed=1, users=200, items=export_items))
    data = export_scenario(state)
    exporters = {
        "yaml": lambda: dump_yaml(export_scenario(state)),
        "json": lambda: json.dumps(export_scenario(state)),
        "libyaml": lambda: yaml.dump(
            data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100
        ),
    }
    export = {key: _median_time(action, rounds) for key, action in exporters.items()}
    big_text = dump_yaml(data)
    loaded: dict[str, Any] = {}

    def load_and_export() -> None:
        loaded["state"] = load_scenario_text(big_text)
        dump_yaml(export_scenario(loaded.pop("state")))

    big = _median_time(load_and_export, rounds)
    n, m = f"{load_items:,}", f"{export_items:,}"
    target_load, target_export = load_items >= 10_000, export_items >= 100_000
    return [
        common.row(
            f"scenario load from YAML text (parse + schema + build, as `mockdrive validate`), "
            f"{n} items",
            load["yaml"][0],
            "s",
            "same scenario as JSON text",
            load["json"][0],
            "≤ 0.25 s" if target_load else "",
            load["yaml"][0] <= 0.25 if target_load else None,
            cpu_s=load["yaml"][1],
            json_cpu_s=load["json"][1],
            yaml_bytes=len(yaml_text),
            json_bytes=len(json_text),
        ),
        common.row(
            f"the same load, CPU time (`time.process_time`), {n} items",
            load["yaml"][1],
            "s",
            "same scenario as JSON text, CPU",
            load["json"][1],
            "≤ 0.25 s" if target_load else "",
            load["yaml"][1] <= 0.25 if target_load else None,
        ),
        common.row(
            f"PyYAML CSafeLoader, parse only (no checks, no build), {n} items",
            load["libyaml"][0],
            "s",
            "mockdrive YAML load (parse + schema + build)",
            load["yaml"][0],
        ),
        common.row(
            f"state exported as YAML (export_yaml), {m} items",
            export["yaml"][0],
            "s",
            "same export as JSON (json.dumps)",
            export["json"][0],
            "≤ 1.5 s" if target_export else "",
            export["yaml"][0] <= 1.5 if target_export else None,
            cpu_s=export["yaml"][1],
        ),
        common.row(
            f"PyYAML CSafeDumper, dump only, {m} items",
            export["libyaml"][0],
            "s",
            "mockdrive YAML export (data + text)",
            export["yaml"][0],
        ),
        common.row(
            f"YAML scenario of {m} items loaded, then exported as YAML",
            big[0],
            "s",
            "the export alone",
            export["yaml"][0],
            "≤ 4.5 s" if target_export else "",
            big[0] <= 4.5 if target_export else None,
            cpu_s=big[1],
            yaml_bytes=len(big_text),
        ),
        common.row(
            f"the same load and export, CPU time (`time.process_time`), {m} items",
            big[1],
            "s",
            "the export alone, CPU",
            export["yaml"][1],
            "≤ 4.5 s" if target_export else "",
            big[1] <= 4.5 if target_export else None,
        ),
    ]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument(
        "--text-only", action="store_true", help="only the scenario text (YAML) figures"
    )
    args = parser.parse_args(argv)
    items = 20_000 if args.quick else args.items
    sizes = (1_000, 5_000) if args.quick else (10_000, 100_000)
    text_sizes = (1_000, 10_000) if args.quick else (10_000, 100_000)
    if args.text_only:
        rows = bench_scenario_text(*text_sizes)
        common.report("scaling", "Scenario text (in-process)", rows)
        return rows
    rows = []
    rows += bench_invite(items, rounds=3 if args.quick else 7, count=200 if args.quick else 2000)
    rows += bench_depth((1, 10, 50), count=200 if args.quick else 2000)
    rows += bench_memory(items)
    rows += bench_demo(sizes)
    rows += bench_scenario_text(*text_sizes)
    common.report("scaling", f"Scaling (in-process, {items:,} items)", rows)
    return rows


if __name__ == "__main__":
    main()
