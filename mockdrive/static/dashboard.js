// mockdrive dashboard: polls the admin API about once a second and redraws what changed.
// Every piece of data goes into the page through textContent or attributes, never as HTML.
"use strict";

const ADMIN = "/_mockdrive";
const POLL_MS = 1000;
const CHILD_PAGE = 200;
const INHERITED_CHIPS = 10; // inherited permissions a tree row draws (the details list them all)
const JOURNAL_KEEP = 1000;

const view = {
  stateId: null,
  overview: null,
  expanded: new Map(), // folder id -> how many children to show
  folders: new Map(), // folder id -> last /dashboard/tree answer
  selected: null, // item id whose details are shown
  asUser: "",
  userAccess: null,
  journal: [], // newest last
  journalLast: 0,
  openEntries: new Set(), // journal entry ids whose body is shown
  outbox: [],
  faults: [],
  drawn: {}, // section -> signature of the data it was last drawn from
  busy: false,
  firstLoad: true,
};

// -- DOM helpers -------------------------------------------------------------------------------
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "data") Object.entries(value).forEach(([k, v]) => (node.dataset[k] = v));
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (id) => document.getElementById(id);

function replaceChildren(parent, children) {
  parent.replaceChildren(...children.filter(Boolean));
}

function changed(section, data) {
  const signature = JSON.stringify(data);
  if (view.drawn[section] === signature) return false;
  view.drawn[section] = signature;
  return true;
}

function formatSize(bytes) {
  if (!bytes) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// -- talking to the admin API --------------------------------------------------------------------
// With `mockdrive --admin-token T`, open the page as /_mockdrive/ui#token=T.
const ADMIN_TOKEN = new URLSearchParams(location.hash.slice(1)).get("token");

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (ADMIN_TOKEN) options.headers["X-Mockdrive-Admin-Token"] = ADMIN_TOKEN;
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(ADMIN + path, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `HTTP ${response.status}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

async function fetchFolder(id) {
  const query = new URLSearchParams({ item: id, limit: view.expanded.get(id) || CHILD_PAGE });
  if (view.asUser) query.set("as", view.asUser);
  try {
    const listing = await api("GET", `/dashboard/tree?${query}`);
    // a child comes with its own permissions; what it inherits is listed once for them all
    for (const child of listing.children) {
      if (child.inherits) child.permissions = child.permissions.concat(listing.inherited);
    }
    view.folders.set(id, listing);
  } catch (error) {
    if (error.status !== 404) throw error;
    view.folders.delete(id); // gone (deleted, or the state was reset)
    view.expanded.delete(id);
  }
}

/** Expanded folders that are visible (every ancestor open), drive roots first. */
function visibleExpanded() {
  const wanted = [];
  const walk = (id) => {
    if (!view.expanded.has(id)) return;
    wanted.push(id);
    const folder = view.folders.get(id);
    for (const child of folder ? folder.children : []) if (child.folder) walk(child.id);
  };
  for (const drive of view.overview ? view.overview.drives : []) walk(drive.rootId);
  return wanted;
}

async function refresh() {
  if (view.busy) return;
  view.busy = true;
  try {
    const overview = await api("GET", "/dashboard/overview");
    if (overview.stateId !== view.stateId) {
      view.stateId = overview.stateId; // a reset or a new scenario: start the journal over
      view.journal = [];
      view.journalLast = 0;
      view.folders.clear();
    }
    view.overview = overview;
    if (view.firstLoad) {
      const drives = overview.drives;
      drives.slice(0, drives.length <= 4 ? drives.length : 1).forEach((d) => view.expanded.set(d.rootId, CHILD_PAGE));
      view.firstLoad = false;
    }
    if (view.asUser && !overview.users.some((u) => u.email === view.asUser)) view.asUser = "";
    const [outbox, faults, journal] = await Promise.all([
      api("GET", "/outbox"),
      api("GET", "/faults"),
      api("GET", `/dashboard/journal?after=${view.journalLast}`),
      view.asUser
        ? api("GET", `/dashboard/access?user=${encodeURIComponent(view.asUser)}`).then((a) => (view.userAccess = a))
        : Promise.resolve((view.userAccess = null)),
    ]);
    // Folders that became visible while fetching (a drive root's children) are fetched in turn.
    const fetched = new Set();
    for (let round = 0; round < 50; round += 1) {
      const todo = visibleExpanded().filter((id) => !fetched.has(id));
      if (!todo.length) break;
      todo.forEach((id) => fetched.add(id));
      await Promise.all(todo.map(fetchFolder));
    }
    view.outbox = outbox.value;
    view.faults = faults.value;
    if (journal.stateId === view.stateId) {
      view.journal.push(...journal.value);
      if (view.journal.length > JOURNAL_KEEP) view.journal.splice(0, view.journal.length - JOURNAL_KEEP);
      view.journalLast = journal.lastId;
    }
    drawAll();
    setStatus(true);
  } catch (error) {
    setStatus(false, error.message);
  } finally {
    view.busy = false;
  }
}

function setStatus(ok, message) {
  const status = $("status");
  status.className = `status ${ok ? "live" : "offline"}`;
  status.textContent = ok ? `updated ${new Date().toLocaleTimeString()}` : `offline: ${message}`;
}

// -- drawing -------------------------------------------------------------------------------------
function drawAll() {
  drawSummary();
  drawUsers();
  drawTree();
  drawDetails();
  drawUserAccess();
  drawJournal();
  drawOutbox();
  drawFaults();
  drawIdentity();
}

/** "1 link", "2 links", "0 links". */
function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function drawSummary() {
  const o = view.overview;
  const text = [
    count(o.drives.length, "drive"),
    count(o.itemCount, "item"),
    count(o.users.length, "user"),
    count(o.groups.length, "group"),
    count(o.outboxCount, "e-mail"),
    count(o.faultCount, "fault rule"),
    count(o.linkCount, "link"),
  ].join(" · ");
  $("summary").textContent = text;
  $("clock").textContent = `clock ${o.clock}`;
}

function drawUsers() {
  const users = view.overview.users;
  if (!changed("users", [users, view.asUser])) return;
  const select = $("as-user");
  replaceChildren(select, [
    el("option", { value: "", text: "— pick a user —" }),
    ...users.map((u) => el("option", { value: u.email, text: `${u.displayName} <${u.email}>` })),
  ]);
  select.value = view.asUser;
}

function permissionLabel(p) {
  const role = p.nativeRole ? `${p.nativeRole} (${p.roles.join(", ")})` : p.roles.join(", ");
  return `${p.grantee.name} · ${role}`;
}

/** A row's chips: its own permissions, a few of those it inherits, and how many more. */
function permissionChips(permissions) {
  const inherited = permissions.filter((p) => p.inherited);
  const shown = permissions.filter((p) => !p.inherited).concat(inherited.slice(0, INHERITED_CHIPS));
  const chips = shown.map(permissionChip);
  const rest = inherited.length - INHERITED_CHIPS;
  if (rest > 0) chips.push(el("span", { class: "badge perm more", text: `+${rest} inherited` }));
  return chips;
}

function permissionChip(p) {
  const classes = ["badge", "perm", `role-${p.role || "none"}`];
  if (p.inherited) classes.push("inherited");
  if (p.pending) classes.push("pending");
  if (p.link) classes.push("link");
  const source = p.inherited ? `inherited from ${p.inheritedFrom.path}` : "direct";
  const link = p.link
    ? ` · ${p.link.webUrl}${p.link.hasPassword ? " (password)" : ""}` +
      `${p.link.members.length ? ` · granted to ${p.link.members.join(", ")}` : ""}` +
      `${p.expiration ? ` · expires ${p.expiration}` : ""}`
    : "";
  const title =
    `${p.grantee.kind} ${p.grantee.email || p.grantee.name}: ${p.roles.join(", ")}${link}` +
    `${p.nativeRole ? ` (Onehub role ${p.nativeRole})` : ""}, ${source}` +
    `${p.pending ? ", invitation pending" : ""} · permission ${p.id}`;
  return el(
    "span",
    { class: classes.join(" "), title, data: { permission: p.id, source } },
    permissionLabel(p),
    p.pending ? el("span", { class: "src", text: "(invited)" }) : null,
    p.inherited ? el("span", { class: "src", text: `↳ inherited from ${p.inheritedFrom.path}` }) : null
  );
}

function accessBadge(node) {
  if (!view.asUser || !node.access) return null;
  const role = node.access.highest;
  return el("span", {
    class: `badge as ${role ? `perm role-${role}` : "none"}`,
    title: node.access.grants.join("\n") || `${view.asUser} has no access`,
    text: role ? `${view.asUser.split("@")[0]}: ${role}` : `${view.asUser.split("@")[0]}: no access`,
  });
}

function toggleFolder(id) {
  if (view.expanded.has(id)) view.expanded.delete(id);
  else view.expanded.set(id, CHILD_PAGE);
  view.drawn.tree = null;
  drawTree();
  refresh();
}

function selectItem(id) {
  view.selected = view.selected === id ? null : id;
  view.drawn.tree = null;
  view.drawn.details = null;
  drawTree();
  drawDetails();
}

function itemRow(node, extraClass, label, extras) {
  const open = view.expanded.has(node.id);
  const toggle = el("button", {
    type: "button",
    class: "toggle",
    disabled: !node.folder || (node.childCount === 0 && !!node.name && node.path !== "/"),
    "aria-expanded": node.folder ? String(open) : null,
    "aria-label": `${open ? "collapse" : "expand"} ${node.name}`,
    text: open ? "▾" : "▸",
    onclick: (event) => {
      event.stopPropagation();
      toggleFolder(node.id);
    },
  });
  const permissions = permissionChips(node.permissions || []);
  return el(
    "div",
    {
      class: `row ${extraClass}${view.selected === node.id ? " selected" : ""}`,
      onclick: () => selectItem(node.id),
    },
    toggle,
    el("span", { class: `icon ${extraClass === "drive-row" ? "drive" : node.folder ? "folder" : "file"}` }),
    el("span", { class: "name", text: label }),
    extras,
    node.inherits ? null : el("span", { class: "badge stop", text: "stops inheriting" }),
    el("span", { class: "perms" }, accessBadge(node), permissions)
  );
}

function folderList(id) {
  const folder = view.folders.get(id);
  if (!folder) return el("ul", {}, el("li", { class: "meta", text: "loading…" }));
  const items = folder.children.map((child) => {
    const meta = child.folder
      ? el("span", { class: "meta", text: `${child.childCount} item${child.childCount === 1 ? "" : "s"}` })
      : el("span", { class: "meta", text: formatSize(child.size) });
    return el(
      "li",
      { class: "node", data: { path: child.path, id: child.id } },
      itemRow(child, "item-row", child.name, meta),
      child.folder && view.expanded.has(child.id) ? folderList(child.id) : null
    );
  });
  if (folder.total > folder.children.length) {
    const more = Math.min(CHILD_PAGE, folder.total - folder.children.length);
    items.push(
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "more",
          text: `show ${more} more of ${folder.total - folder.children.length}`,
          onclick: () => {
            view.expanded.set(id, folder.limit + CHILD_PAGE);
            refresh();
          },
        })
      )
    );
  }
  if (!items.length) items.push(el("li", { class: "meta", text: "(empty folder)" }));
  return el("ul", {}, items);
}

function drawTree() {
  const o = view.overview;
  if (!o) return;
  const data = [o.drives, [...view.folders.entries()], [...view.expanded.entries()], view.selected, view.asUser];
  if (!changed("tree", data)) return;
  const rows = o.drives.map((drive) => {
    const root = view.folders.get(drive.rootId);
    const node = root
      ? root.item
      : { id: drive.rootId, name: drive.name, path: "/", folder: true, inherits: true, childCount: 1 };
    const extras = [
      el("span", { class: "badge", text: drive.driveType }),
      drive.onehubWorkspace ? el("span", { class: "badge onehub", text: "Onehub workspace" }) : null,
      el("span", { class: "meta", text: `owner ${drive.owner}` }),
    ];
    return el(
      "li",
      { class: "node drive", data: { path: "/", drive: drive.id, id: drive.rootId } },
      itemRow({ ...node, childCount: 1 }, "drive-row", drive.label, extras),
      view.expanded.has(drive.rootId) ? folderList(drive.rootId) : null
    );
  });
  if (!rows.length) rows.push(el("li", { class: "empty", text: "No drive." }));
  replaceChildren($("tree"), rows);
  $("tree").removeAttribute("data-first-view");
}

function findNode(id) {
  for (const folder of view.folders.values()) {
    if (folder.item.id === id) return folder.item;
    const child = folder.children.find((c) => c.id === id);
    if (child) return child;
  }
  return null;
}

function drawDetails() {
  const box = $("details");
  const node = view.selected ? findNode(view.selected) : null;
  if (!changed("details", [node, view.asUser])) return;
  if (!node) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  const rows = node.permissions.map((p) =>
    el(
      "tr",
      { class: p.pending ? "pending" : null },
      el("td", { text: p.grantee.name }),
      el("td", { class: "meta", text: p.grantee.kind + (p.pending ? " (pending)" : "") }),
      el("td", {}, el("span", { class: `badge perm role-${p.role}`, text: p.roles.join(", ") })),
      el("td", {}, p.nativeRole ? el("span", { class: "badge onehub", text: p.nativeRole }) : "—"),
      el("td", { class: "path", text: p.inherited ? `inherited from ${p.inheritedFrom.path}` : "granted here" }),
      el("td", { class: "mono", text: p.id })
    )
  );
  const access = node.access
    ? el(
        "div",
        { class: "user-line" },
        el("strong", { text: `${view.asUser}: ` }),
        node.access.highest ? `${node.access.roles.join(", ")} — can ${node.access.abilities.join(", ")}` : "no access",
        el("ul", { class: "grants" }, node.access.grants.map((g) => el("li", { text: g }))),
        node.access.stopsAt ? el("div", { class: "meta", text: `inheritance stops at ${node.access.stopsAt}` }) : null
      )
    : null;
  replaceChildren(box, [
    el("h3", { text: node.name }),
    el("div", { class: "path", text: `${node.path} · id ${node.id}` }),
    node.inherits ? null : el("p", { class: "hint", text: "This item stops inheriting: permissions above it do not apply." }),
    access,
    el(
      "table",
      { class: "table" },
      el("thead", {}, el("tr", {}, ["who", "kind", "roles", "Onehub role", "where from", "permission id"].map((h) => el("th", { text: h })))),
      el("tbody", {}, rows)
    ),
  ]);
}

function drawUserAccess() {
  const data = view.userAccess;
  if (!changed("access", data)) return;
  const box = $("user-access");
  if (!data) {
    replaceChildren(box, [el("p", { class: "empty", text: "Pick a user to see what they can reach." })]);
    return;
  }
  const user = data.user;
  const header = el(
    "div",
    { class: "user-line" },
    el("strong", { text: user.displayName }),
    ` <${user.email}>`,
    user.groups.length ? el("div", { class: "meta", text: `member of ${user.groups.join(", ")}` }) : null,
    user.token ? el("div", { class: "meta mono", text: `token ${user.token}` }) : null
  );
  const entries = data.entries.map((entry) =>
    el(
      "li",
      { data: { path: entry.path } },
      el("div", {}, el("span", { class: `badge perm role-${entry.access.highest}`, text: entry.access.roles.join(", ") }), " ",
        el("strong", { text: entry.path === "/" ? `${entry.drive.label} (whole drive)` : entry.path }),
        entry.path === "/" ? null : el("span", { class: "meta", text: ` in ${entry.drive.label}` })),
      el("div", { class: "abilities", text: `can ${entry.access.abilities.join(", ")}` }),
      el("ul", { class: "grants" }, entry.access.grants.map((g) => el("li", { text: g }))),
      entry.exceptions.length
        ? el("div", { class: "meta", text: `except below: ${entry.exceptions.join(", ")} (stop inheriting)` })
        : null
    )
  );
  const pending = data.pendingInvitations.map((p) =>
    el("li", {}, el("span", { class: "badge pending", text: "pending" }), ` ${p.roles.join(", ")} on ${p.path}`)
  );
  replaceChildren(box, [
    header,
    entries.length ? el("ul", { class: "access-list" }, entries) : el("p", { class: "empty", text: "No access anywhere." }),
    pending.length ? el("ul", { class: "access-list" }, pending) : null,
  ]);
}

function statusClass(status) {
  return `status-${String(status)[0]}`;
}

function journalMatches(entry) {
  const status = $("journal-status").value;
  const route = $("journal-route").value.trim().toLowerCase();
  const digit = String(entry.status)[0];
  if (status === "err" && digit !== "4" && digit !== "5") return false;
  if (status === "fault" && !(entry.faults && entry.faults.length)) return false;
  if (/^[2-5]$/.test(status) && digit !== status) return false;
  return !route || `${entry.method} ${entry.path}`.toLowerCase().includes(route);
}

function drawJournal() {
  const shown = view.journal.filter(journalMatches).reverse();
  const filters = [$("journal-status").value, $("journal-route").value];
  if (!changed("journal", [view.journalLast, view.stateId, filters, [...view.openEntries], shown.length])) return;
  const rows = [];
  for (const entry of shown) {
    const faults = (entry.faults || []).map((f) =>
      el("span", { class: "badge fault", title: JSON.stringify(f), text: `${f.rule} ${f.effect}${f.earlyRetry ? " (early retry)" : ""}` })
    );
    rows.push(
      el(
        "tr",
        {
          class: `entry ${statusClass(entry.status)}`,
          data: { id: entry.id },
          onclick: () => {
            if (view.openEntries.has(entry.id)) view.openEntries.delete(entry.id);
            else view.openEntries.add(entry.id);
            drawJournal();
          },
        },
        el("td", { class: "meta", text: entry.id }),
        el("td", { class: "mono", text: entry.method }),
        el("td", { class: "mono path", text: entry.path }),
        el("td", { class: "status", text: entry.status }),
        el("td", { text: entry.caller || "—" }),
        el("td", { class: "meta", text: entry.durationMs === undefined ? "" : entry.durationMs.toFixed(1) }),
        el("td", {}, faults)
      )
    );
    if (view.openEntries.has(entry.id)) {
      const detail = { requestId: entry.requestId, query: entry.query, headers: entry.headers, body: entry.body, faults: entry.faults };
      rows.push(el("tr", { class: "entry-body" }, el("td", { colspan: 7 }, el("pre", { text: JSON.stringify(detail, null, 2) }))));
    }
  }
  replaceChildren($("journal").tBodies[0], rows);
  $("journal-empty").hidden = shown.length > 0;
  $("journal-empty").textContent = view.journal.length ? "No request matches the filter." : "No API request yet.";
}

function drawOutbox() {
  if (!changed("outbox", view.outbox)) return;
  const rows = [...view.outbox].reverse().map((m) =>
    el(
      "tr",
      { class: m.status === "failed" ? "failed" : null, data: { to: m.to } },
      el("td", { class: "meta", text: m.id }),
      el("td", { text: m.to }),
      el("td", { text: `${m.senderName} <${m.sender}>` }),
      el("td", { text: m.itemName, title: m.webUrl }),
      el("td", { text: m.roles.join(", ") }),
      el("td", { class: "status", text: m.status + (m.errorCode ? ` (${m.errorCode})` : "") }),
      el("td", { class: "meta", text: m.time }),
      el("td", { text: m.message || "" })
    )
  );
  replaceChildren($("outbox").tBodies[0], rows);
  $("outbox-empty").hidden = rows.length > 0;
}

function describeRule(rule) {
  const match = [
    rule.method || "any method",
    rule.path ? `path ~ ${rule.path}` : "any path",
    rule.caller ? `caller ${rule.caller}` : null,
    rule.recipient ? `recipient ${rule.recipient}` : null,
    rule.domain ? `domain ${rule.domain}` : null,
    rule.nth ? `from match #${rule.nth}` : null,
    rule.times !== undefined ? `${rule.times}×` : null,
  ].filter(Boolean);
  const effect = {
    error: () => `${rule.status} ${rule.code}: ${rule.message}`,
    throttle: () => `${rule.status}, Retry-After ${rule.retryAfter}s, ${rule.violations} early retries`,
    latency: () => `+${rule.latencyMs} ms (jitter ${rule.jitterMs} ms)`,
    notificationFailure: () => `e-mail fails: ${rule.innerCode}`,
  }[rule.effect];
  return { match: match.join(" · "), effect: effect ? effect() : "" };
}

function drawFaults() {
  if (!changed("faults", view.faults)) return;
  const items = view.faults.map((rule) => {
    const text = describeRule(rule);
    return el(
      "li",
      { data: { rule: rule.id } },
      el(
        "div",
        { class: "what" },
        el("span", { class: "badge fault", text: rule.effect }),
        " ",
        el("strong", { class: "mono", text: rule.id }),
        el("div", { text: text.match }),
        el("div", { class: "meta", text: `${text.effect} · matched ${rule.matched}, fired ${rule.fired}` })
      ),
      el("button", {
        type: "button",
        class: "danger",
        text: "Remove",
        "aria-label": `remove fault rule ${rule.id}`,
        onclick: () => act(() => api("DELETE", `/faults/${encodeURIComponent(rule.id)}`)),
      })
    );
  });
  replaceChildren($("faults"), items);
  $("faults-empty").hidden = items.length > 0;
}

function drawIdentity() {
  const identity = view.overview.identity;
  if (!identity || !changed("identity", identity)) return;
  const apps = identity.apps.map((a) =>
    el(
      "li",
      { data: { app: a.clientId } },
      el(
        "div",
        { class: "what" },
        el("span", { class: "badge", text: a.confidential ? "confidential" : "public" }),
        " ",
        el("strong", { text: a.displayName }),
        el("div", { class: "meta mono", text: a.clientId }),
        a.roles.length ? el("div", { class: "meta", text: `roles ${a.roles.join(" ")}` }) : null
      )
    )
  );
  const holders = identity.holders.map((h) =>
    el(
      "li",
      { data: { holder: `${h.who} ${h.clientId}` } },
      el(
        "div",
        { class: "what" },
        el("span", { class: "badge", text: h.kind }),
        " ",
        el("strong", { text: h.who }),
        el("div", { class: "meta", text: `${h.scopes.join(" ") || "(no scope)"} · expires ${h.expires}` })
      )
    )
  );
  replaceChildren($("identity"), [...apps, ...holders]);
  $("identity-empty").hidden = apps.length + holders.length > 0;
}

// -- actions -------------------------------------------------------------------------------------
async function act(action) {
  try {
    await action();
  } catch (error) {
    setStatus(false, error.message);
  }
  await refresh();
}

function faultFromForm(form) {
  const effect = form.elements.effect.value;
  const rule = { effect };
  const numbers = new Set(["status", "retryAfter", "latencyMs", "jitterMs", "nth", "times"]);
  for (const field of form.querySelectorAll("[name]")) {
    if (field.name === "effect" || !field.value.trim()) continue;
    const label = field.closest("[data-effects]");
    if (label && !label.dataset.effects.split(" ").includes(effect)) continue;
    rule[field.name] = numbers.has(field.name) ? Number(field.value) : field.value.trim();
  }
  return rule;
}

function showEffectFields() {
  const effect = $("fault-form").elements.effect.value;
  for (const label of document.querySelectorAll("#fault-form [data-effects]")) {
    label.hidden = !label.dataset.effects.split(" ").includes(effect);
  }
}

// Until the first poll draws it, the tree is the one the server drew, whose rows have no
// handlers of their own: a click there does what it does on a drawn row.
function wireFirstView() {
  const tree = $("tree");
  tree.addEventListener("click", (event) => {
    if (!tree.hasAttribute("data-first-view")) return;
    const node = event.target.closest("li.node");
    if (!node) return;
    if (event.target.closest(".toggle")) toggleFolder(node.dataset.id);
    else if (event.target.closest(".row")) selectItem(node.dataset.id);
  });
}

function wire() {
  wireFirstView();
  $("as-user").addEventListener("change", (event) => {
    view.asUser = event.target.value;
    view.folders.clear();
    view.userAccess = null;
    view.drawn = {};
    refresh();
  });
  $("journal-status").addEventListener("change", drawJournal);
  $("journal-route").addEventListener("input", drawJournal);
  $("journal-clear").addEventListener("click", () =>
    act(async () => {
      await api("DELETE", "/journal");
      view.journal = [];
    })
  );
  $("outbox-clear").addEventListener("click", () => act(() => api("DELETE", "/outbox")));
  $("faults-clear").addEventListener("click", () => act(() => api("DELETE", "/faults")));
  $("clock-advance").addEventListener("click", () => act(() => api("POST", "/clock", { days: 1 })));
  $("reset").addEventListener("click", () => {
    if (!window.confirm("Reset the mock to the state it started with?")) return;
    act(async () => {
      await api("POST", "/reset");
      view.selected = null;
    });
  });
  const form = $("fault-form");
  form.elements.effect.addEventListener("change", showEffectFields);
  showEffectFields();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $("fault-error").textContent = "";
    try {
      await api("POST", "/faults", faultFromForm(form));
      form.reset();
      showEffectFields();
    } catch (error) {
      $("fault-error").textContent = error.message;
    }
    await refresh();
  });
  $("live").addEventListener("change", () => {
    if ($("live").checked) refresh();
  });
  setInterval(() => {
    if ($("live").checked && !document.hidden) refresh();
  }, POLL_MS);
  refresh();
}

document.addEventListener("DOMContentLoaded", wire);
