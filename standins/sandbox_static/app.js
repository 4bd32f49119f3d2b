// imagebot sandbox: a Slack-like page over the Slack stand-in. No build step, no external resources.
// It reads the whole state from /api/state and refreshes whenever /api/events says something changed.
// emoji.js (EMOJI_SVG, emojiHtml) and mrkdwn.js (escapeHtml, mrkdwn) are loaded before it.
"use strict";

const COLORS = 7; // .avatar.c0 … .c6 in app.css (no inline styles: the page's CSP forbids them)

const ui = {
  state: null,
  user: localStorage.getItem("sandbox.user") || "U0ALICE",
  channel: localStorage.getItem("sandbox.channel") || "C0GENERAL",
  thread: null, // ts of the open thread's parent
  home: false, // the app's Home tab is on screen
  viewId: null, // the modal on screen
  files: { composer: [], thread: [] },
  refreshing: false,
  again: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ------------------------------------------------------------------ mrkdwn

const lookup = {
  user: (id) => ((ui.state && ui.state.names) || {})[id],
  channel: (id) => ((ui.state && ui.state.channel_names) || {})[id], // a DM reads #dm-alice
};

function md(text) { return mrkdwn(text, lookup); }

function textObject(obj) {
  if (!obj) return el("span");
  if (obj.type === "plain_text") return el("span", { html: emojiHtml(escapeHtml(obj.text || "")) });
  return el("span", { class: "text", html: md(obj.text || "") });
}

// ------------------------------------------------------------------ Block Kit

function fileUrl(source) {
  if (!source) return null;
  if (source.id) return `/files/${encodeURIComponent(source.id)}`;
  const match = /-(F[A-Z0-9]+)\//.exec(source.url || "");
  return match ? `/files/${match[1]}` : null;
}

function imageSrc(block) {
  if (block.slack_file) return fileUrl(block.slack_file);
  const url = block.image_url || "";
  return url.startsWith("/") || url.startsWith("data:") ? url : null; // nothing external is loaded
}

function button(element, block, context) {
  const testid = `button-${element.action_id}`;
  return el("button", {
    type: "button", class: element.style || null, "data-testid": testid, "data-action-id": element.action_id,
    "data-block-id": block.block_id || "", title: element.value || null,
    onclick: (event) => press(event.currentTarget, element, block, context),
    html: emojiHtml(escapeHtml((element.text && element.text.text) || element.action_id)),
  });
}

function renderBlock(block, context) {
  switch (block.type) {
    case "section": {
      const main = el("div", { class: "section-main" });
      if (block.text) main.append(textObject(block.text));
      if (block.fields && block.fields.length) {
        main.append(el("div", { class: "fields" }, block.fields.map((f) => el("div", {}, textObject(f)))));
      }
      const node = el("div", { class: "block section" }, main);
      const acc = block.accessory;
      if (acc && acc.type === "image" && imageSrc(acc)) {
        node.append(el("div", { class: "accessory" }, el("img", { src: imageSrc(acc), alt: acc.alt_text || "" })));
      } else if (acc && acc.type === "button") {
        node.append(el("div", { class: "accessory actions" }, button(acc, block, context)));
      }
      return node;
    }
    case "context":
      return el("div", { class: "block context" }, (block.elements || []).map((e) => {
        if (e.type === "image") return imageSrc(e) ? el("img", { src: imageSrc(e), alt: e.alt_text || "" }) : null;
        return textObject(e);
      }));
    case "image": {
      const src = imageSrc(block);
      return el("div", { class: "block image", "data-testid": "block-image" },
        block.title ? el("div", { class: "title" }, block.title.text) : null,
        src ? el("a", { href: src, target: "_blank", rel: "noopener" }, el("img", { src, alt: block.alt_text || "" }))
          : el("span", { class: "muted" }, `[image: ${block.alt_text || "external"}]`));
    }
    case "actions":
      return el("div", { class: "block actions", "data-testid": "actions" },
        (block.elements || []).filter((e) => e.type === "button").map((e) => button(e, block, context)));
    case "header":
      return el("div", { class: "block header" }, textObject(block.text));
    case "divider":
      return el("hr");
    case "rich_text":
      return null;
    default:
      return el("div", { class: "block muted" }, `[${block.type} block]`);
  }
}

// ------------------------------------------------------------------ messages

function avatar(name, isBot) {
  const color = [...name].reduce((sum, c) => sum + c.charCodeAt(0), 0) % COLORS;
  return el("div", { class: isBot ? "avatar bot" : `avatar c${color}` },
    isBot ? "ib" : name.slice(0, 1).toUpperCase());
}

function time(ts) {
  const date = new Date(parseFloat(ts) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(message, { inThread = false, ephemeral = false } = {}) {
  const context = { ts: message.ts, ephemeral, channel: ui.channel };
  const body = el("div", { class: "body" },
    el("div", { class: "meta" }, el("span", { class: "name" }, message.user_name),
      message.is_bot ? el("span", { class: "app-badge" }, "APP") : null,
      el("span", { class: "time", title: message.ts }, time(message.ts)),
      message.edited ? el("span", { class: "edited" }, " (edited)") : null));
  if (ephemeral) body.prepend(el("div", { class: "only-you", "data-testid": "only-visible-to-you" }, "Only visible to you"));
  const blocks = message.blocks || [];
  if (blocks.length) blocks.forEach((b) => { const node = renderBlock(b, context); if (node) body.append(node); });
  if (!blocks.length && message.text) body.append(el("div", { class: "text", "data-testid": "message-text", html: md(message.text) }));
  if (blocks.length && message.text && !message.is_bot && !blocks.some((b) => b.type !== "rich_text")) {
    body.append(el("div", { class: "text", html: md(message.text) }));
  }
  const files = message.files || [];
  if (files.length) {
    body.append(el("div", { class: "files" }, files.map((f) => f.is_image
      ? el("figure", { class: "file", "data-testid": "file" },
        el("a", { href: f.url, target: "_blank", rel: "noopener" }, el("img", { src: f.url, alt: f.title || f.name, loading: "lazy" })),
        el("figcaption", {}, f.name))
      : el("div", { class: "file", "data-testid": "file" }, el("span", { html: EMOJI_SVG.page_facing_up }), " ", el("a", { href: f.url, download: f.name }, f.name)))));
  }
  if (message.reactions && message.reactions.length) {
    body.append(el("div", { class: "reactions" }, message.reactions.map((r) => el("span", { class: "reaction", "data-testid": "reaction", title: `:${r}:`,
      html: EMOJI_SVG[r] || escapeHtml(`:${r}:`) }))));
  }
  if (!inThread && !ephemeral && message.reply_count) {
    body.append(el("button", { type: "button", class: "thread-link", "data-testid": "thread-link",
      onclick: () => openThread(message.ts) }, `${message.reply_count} ${message.reply_count === 1 ? "reply" : "replies"}`));
  }
  const tools = el("div", { class: "toolbar" });
  if (!inThread && !ephemeral) {
    tools.append(el("button", { type: "button", "data-testid": "reply-in-thread", onclick: () => openThread(message.ts) }, "Reply in thread"));
  }
  if (!ephemeral && files.some((f) => f.is_image)) {
    tools.append(el("button", { type: "button", "data-testid": "edit-with-imagebot", onclick: () => shortcut(message.ts) }, "Edit with imagebot"));
  }
  const testid = ephemeral ? "ephemeral" : inThread ? "thread-reply" : "message";
  return el("div", { class: `message${ephemeral ? " ephemeral" : ""}`, "data-testid": testid, "data-ts": message.ts,
    "data-user": message.user_name }, avatar(message.user_name, message.is_bot || ephemeral), body,
    tools.childElementCount ? tools : null);
}

function byTs(a, b) { return parseFloat(a.ts) - parseFloat(b.ts); }

function keepScroll(container, render) {
  const atBottom = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  const top = container.scrollTop;
  render();
  container.scrollTop = atBottom ? container.scrollHeight : top;
}

function currentChannel() {
  const channels = ui.state.channels;
  return channels.find((c) => c.id === ui.channel) || channels.find((c) => !c.is_im) || channels[0];
}

function chooseChannel(id) {
  ui.channel = id;
  ui.thread = null;
  ui.home = false;
  localStorage.setItem("sandbox.channel", id);
  render();
}

function renderSidebar(state, channel) {
  const provider = $("provider");
  provider.textContent = `provider: ${state.provider}`;
  provider.className = `provider ${state.provider === "offline" ? "offline" : "real"}`;
  const picker = $("user-picker");
  const wanted = state.users.map((u) => u.id).join();
  if (picker.dataset.users !== wanted) {
    picker.replaceChildren(...state.users.map((u) => el("option", { value: u.id },
      `${u.name}${u.is_admin ? " (admin)" : ""} — ${u.real_name}`)));
    picker.dataset.users = wanted;
  }
  picker.value = ui.user;
  const link = (c) => el("button", {
    type: "button", class: `channel-link${!ui.home && c.id === channel.id ? " active" : ""}`,
    "data-testid": c.is_im ? "dm-imagebot" : `channel-${c.name}`, onclick: () => chooseChannel(c.id),
  }, c.is_im ? `● ${c.name}` : `# ${c.name}`);
  $("channel-list").replaceChildren(...state.channels.filter((c) => !c.is_im).map(link));
  $("dm-list").replaceChildren(...state.channels.filter((c) => c.is_im).map(link));
  $("app-home-link").className = `channel-link${ui.home ? " active" : ""}`;
  renderRuns(state.workflow_runs || []);
}

// The step's runs, as a workflow's activity shows them: running, then its outputs or its error.
function renderRuns(runs) {
  $("workflow-runs").replaceChildren(...runs.slice(0, 5).map((run) => {
    const outputs = run.outputs || {};
    const detail = run.state === "completed"
      ? `${outputs.version || ""}${outputs.cost_usd !== undefined ? ` · $${outputs.cost_usd}` : ""} · ${outputs.file_id || ""}`
      : run.state === "failed" ? run.error : "running…";
    return el("div", { class: `workflow-run ${run.state}`, "data-testid": "workflow-run-item" },
      el("div", { class: "workflow-state" }, `${run.state}: ${run.prompt}`),
      el("div", { class: "workflow-detail" }, detail || ""));
  }));
}

async function runWorkflow(event) {
  event.preventDefault();
  const input = $("workflow-prompt");
  const button = $("workflow-run");
  button.disabled = true;
  try {
    await api("/api/workflow", { user: ui.user, channel: ui.channel, prompt: input.value });
    input.value = "";
  } catch (error) {
    toast(error.message);
  } finally {
    button.disabled = false;
    refresh();
  }
}

// The app's Home tab (views.publish), as Slack shows it when the user opens the app.
function renderHome(state) {
  const view = state.home;
  $("home").replaceChildren(...(view ? (view.blocks || []).map((b) => renderBlock(b, { ts: null, ephemeral: false,
    channel: null, home: true })).filter(Boolean) : [el("div", { class: "empty" }, "Opening imagebot's Home…")]));
}

function renderThread(channel, ephemerals, asMessage) {
  const parent = ui.thread && channel.messages.find((m) => m.ts === ui.thread);
  $("thread-pane").hidden = !parent;
  if (!parent) return;
  const items = [
    ...parent.replies.map((m) => ({ m, node: () => renderMessage(m, { inThread: true }) })),
    ...ephemerals.filter((e) => e.thread_ts === parent.ts)
      .map((e) => ({ m: e, node: () => renderMessage(asMessage(e), { inThread: true, ephemeral: true }) })),
  ].sort((a, b) => byTs(a.m, b.m));
  keepScroll($("thread-messages"), () => {
    $("thread-messages").replaceChildren(
      el("div", { class: "parent", "data-testid": "thread-parent" }, renderMessage(parent, { inThread: true })),
      el("div", { class: "reply-count" }, `${parent.replies.length} ${parent.replies.length === 1 ? "reply" : "replies"}`),
      ...items.map((x) => x.node()));
  });
}

function render() {
  const state = ui.state;
  const channel = currentChannel();
  ui.channel = channel.id;
  renderSidebar(state, channel);
  $("home").hidden = !ui.home;
  $("app-tabs").hidden = !ui.home && !channel.is_im;
  $("tab-home").className = ui.home ? "active" : "";
  $("tab-messages").className = ui.home ? "" : "active";
  $("messages").hidden = ui.home;
  $("composer").hidden = ui.home;
  const title = ui.home || channel.is_im ? "imagebot" : `#${channel.name}`;
  $("channel-title").textContent = title;
  $("composer-input").placeholder = channel.is_im ? "Message imagebot — a prompt, or /image a prompt"
    : `Message ${title} — try /image a prompt`;
  if (ui.home) renderHome(state);

  const ephemerals = state.ephemerals.filter((e) => e.channel === channel.id);
  const asMessage = (e) => ({ ...e, user_name: "imagebot", is_bot: true, files: [] });
  const topLevel = [
    ...channel.messages.map((m) => ({ m, node: () => renderMessage(m) })),
    ...ephemerals.filter((e) => !e.thread_ts || !channel.messages.some((m) => m.ts === e.thread_ts))
      .map((e) => ({ m: e, node: () => renderMessage(asMessage(e), { ephemeral: true }) })),
  ].sort((a, b) => byTs(a.m, b.m));
  keepScroll($("messages"), () => {
    $("messages").replaceChildren(...(topLevel.length ? topLevel.map((x) => x.node())
      : [el("div", { class: "empty" }, channel.is_im ? "Send imagebot a prompt: it answers in a thread."
        : "No messages yet. Type /image and a prompt below.")]));
  });
  renderThread(channel, ephemerals, asMessage);
  renderModal(state.view);
}

async function openHome() {
  ui.home = true;
  ui.thread = null;
  if (ui.state) render();
  try { await api("/api/home", { user: ui.user }); } catch (error) { toast(error.message); } finally { refresh(); }
}

function openMessagesTab() {
  const dm = ui.state && ui.state.channels.find((c) => c.is_im);
  if (dm) chooseChannel(dm.id);
}

// ------------------------------------------------------------------ talking to the server

async function api(path, body) {
  const init = { method: "POST" };
  if (body instanceof FormData) init.body = body;
  else { init.body = JSON.stringify(body); init.headers = { "Content-Type": "application/json" }; }
  const response = await fetch(path, init);
  let answer = {};
  try { answer = await response.json(); } catch (e) { answer = { error: `HTTP ${response.status}` }; }
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function toast(message) {
  const node = $("toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 6000);
}

async function refresh() {
  if (ui.refreshing) { ui.again = true; return; }
  ui.refreshing = true;
  try {
    do {
      ui.again = false;
      const response = await fetch(`/api/state?user=${encodeURIComponent(ui.user)}`);
      if (!response.ok) throw new Error(`state: HTTP ${response.status}`);
      ui.state = await response.json();
      render();
    } while (ui.again);
  } catch (error) {
    toast(String(error.message || error));
  } finally {
    ui.refreshing = false;
  }
}

async function press(node, element, block, context) {
  node.disabled = true;
  try {
    await api("/api/action", { user: ui.user, channel: context.channel, message_ts: context.ts,
      action_id: element.action_id, block_id: block.block_id || "", value: element.value || "",
      ephemeral: context.ephemeral, home: Boolean(context.home) });
  } catch (error) { toast(error.message); } finally { node.disabled = false; refresh(); }
}

async function shortcut(ts) {
  try { await api("/api/shortcut", { user: ui.user, channel: ui.channel, message_ts: ts }); }
  catch (error) { toast(error.message); } finally { refresh(); }
}

function openThread(ts) {
  ui.thread = ts;
  render();
  $("thread-input").focus();
}

async function send(kind) {
  const input = $(kind === "thread" ? "thread-input" : "composer-input");
  const sendButton = $(kind === "thread" ? "thread-send" : "send-button");
  const text = input.value.trim();
  const files = ui.files[kind];
  if (!text && !files.length) return;
  const command = text.match(/^(\/[a-z-]+)(?:\s+([\s\S]*))?$/);
  sendButton.disabled = true;
  try {
    if (command) {
      if (!["/image", "/image-admin"].includes(command[1])) throw new Error(`${command[1]} is not a command here: try /image or /image-admin`);
      if (files.length) throw new Error("a slash command cannot carry files: reply in a thread instead");
      await api("/api/command", { user: ui.user, channel: ui.channel, command: command[1], text: command[2] || "" });
    } else {
      const form = new FormData();
      form.append("user", ui.user);
      form.append("channel", ui.channel);
      form.append("text", text);
      if (kind === "thread" && ui.thread) form.append("thread_ts", ui.thread);
      files.forEach((f) => form.append("files", f, f.name));
      await api("/api/message", form);
    }
    input.value = "";
    input.style.height = ""; // back to one line, as Slack's composer after sending
    ui.files[kind] = [];
    renderAttachments(kind);
  } catch (error) {
    toast(error.message);
  } finally {
    sendButton.disabled = false;
    refresh();
  }
}

// ------------------------------------------------------------------ attachments (picker, drag and drop, paste)

function addFiles(kind, list) {
  const images = [...list].filter((f) => f.type.startsWith("image/"));
  if (images.length < list.length) toast("only images can be attached here");
  ui.files[kind].push(...images);
  renderAttachments(kind);
}

function renderAttachments(kind) {
  const box = $(kind === "thread" ? "thread-files" : "composer-files");
  box.replaceChildren(...ui.files[kind].map((file, i) => {
    const url = URL.createObjectURL(file);
    return el("div", { class: "chip", "data-testid": "attachment" },
      el("img", { src: url, alt: file.name, onload: () => URL.revokeObjectURL(url) }), file.name,
      el("button", { type: "button", "aria-label": `Remove ${file.name}`, onclick: () => {
        ui.files[kind].splice(i, 1); renderAttachments(kind);
      } }, "×"));
  }));
}

function wireComposer(kind) {
  const form = $(kind === "thread" ? "thread-composer" : "composer");
  const input = $(kind === "thread" ? "thread-input" : "composer-input");
  const picker = $(kind === "thread" ? "thread-file" : "composer-file");
  const zone = $(kind === "thread" ? "thread-pane" : "channel-pane");
  form.addEventListener("submit", (event) => { event.preventDefault(); send(kind); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(kind); }
  });
  input.addEventListener("input", () => { input.style.height = "auto"; input.style.height = `${input.scrollHeight}px`; });
  input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (files.length) { event.preventDefault(); addFiles(kind, files); }
  });
  picker.addEventListener("change", () => { addFiles(kind, picker.files); picker.value = ""; });
  let depth = 0;
  zone.addEventListener("dragenter", (event) => { event.preventDefault(); depth += 1; zone.classList.add("dragging"); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); });
  zone.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) zone.classList.remove("dragging"); });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) addFiles(kind, event.dataTransfer.files);
  });
}

// ------------------------------------------------------------------ modals

function optionText(option) { return (option.text && option.text.text) || option.value; }

function renderField(block) {
  const element = block.element || {};
  const id = `field-${block.block_id}`;
  const testid = `modal-field-${block.block_id}`;
  let control;
  if (element.type === "plain_text_input") {
    const attrs = { id, "data-testid": testid, name: block.block_id, maxlength: element.max_length || null,
      placeholder: (element.placeholder && element.placeholder.text) || null };
    control = element.multiline ? el("textarea", attrs) : el("input", { ...attrs, type: "text" });
    control.value = element.initial_value || "";
    if (element.focus_on_load) setTimeout(() => control.focus(), 0);
  } else if (element.type === "static_select") {
    control = el("select", { id, "data-testid": testid, name: block.block_id },
      el("option", { value: "" }, (element.placeholder && element.placeholder.text) || "Choose…"),
      (element.options || []).map((o) => el("option", { value: o.value }, optionText(o))));
    control.value = element.initial_option ? element.initial_option.value : "";
  } else if (element.type === "checkboxes") {
    const initial = new Set((element.initial_options || []).map((o) => o.value));
    control = el("div", { id, "data-testid": testid }, (element.options || []).map((o) => el("label", { class: "check" },
      el("input", { type: "checkbox", value: o.value, checked: initial.has(o.value),
        "data-testid": `${testid}-${o.value}` }), optionText(o))));
  } else {
    control = el("div", { class: "muted" }, `[${element.type} is not supported here]`);
  }
  return el("div", { class: "field", "data-block-id": block.block_id },
    el("label", { class: "label", for: id }, (block.label && block.label.text) || block.block_id,
      block.optional ? el("span", { class: "optional" }, " (optional)") : null),
    control,
    block.hint ? el("div", { class: "hint" }, block.hint.text) : null,
    el("div", { class: "error", "data-testid": `modal-error-${block.block_id}` }));
}

function renderModal(view) {
  if (!view) { $("modal").hidden = true; ui.viewId = null; return; }
  if (view.id === ui.viewId) return; // keep what the user typed
  ui.viewId = view.id;
  ui.view = view;
  $("modal-title").textContent = (view.title && view.title.text) || "imagebot";
  $("modal-submit").textContent = (view.submit && view.submit.text) || "Submit";
  $("modal-cancel").textContent = (view.close && view.close.text) || "Cancel";
  $("modal-error").textContent = "";
  $("modal-body").replaceChildren(...(view.blocks || []).map((block) => (block.type === "input"
    ? renderField(block) : renderBlock(block, { ts: null, ephemeral: false, channel: ui.channel }))).filter(Boolean));
  $("modal").hidden = false;
}

function modalValues(view) {
  const values = {};
  for (const block of view.blocks || []) {
    if (block.type !== "input" || !block.element) continue;
    const element = block.element;
    const node = $(`field-${block.block_id}`);
    let value;
    if (element.type === "plain_text_input") value = { type: element.type, value: node.value || null };
    else if (element.type === "static_select") {
      const option = (element.options || []).find((o) => o.value === node.value) || null;
      value = { type: element.type, selected_option: option };
    } else if (element.type === "checkboxes") {
      const ticked = new Set([...node.querySelectorAll("input:checked")].map((i) => i.value));
      value = { type: element.type, selected_options: (element.options || []).filter((o) => ticked.has(o.value)) };
    } else continue;
    values[block.block_id] = { [element.action_id]: value };
  }
  return values;
}

function showErrors(errors) {
  document.querySelectorAll("#modal-body .field").forEach((field) => {
    const message = errors[field.dataset.blockId] || "";
    field.classList.toggle("invalid", Boolean(message));
    field.querySelector(".error").textContent = message;
  });
  const known = new Set([...document.querySelectorAll("#modal-body .field")].map((f) => f.dataset.blockId));
  $("modal-error").textContent = Object.entries(errors).filter(([k]) => !known.has(k)).map(([, v]) => v).join(" ");
}

async function submitModal(event) {
  event.preventDefault();
  const view = ui.view;
  if (!view) return;
  for (const block of view.blocks || []) { // Slack checks required fields before the app sees anything
    if (block.type === "input" && !block.optional) {
      const value = modalValues(view)[block.block_id];
      const inner = value && value[block.element.action_id];
      if (inner && ((inner.type === "plain_text_input" && !inner.value) || (inner.type === "static_select" && !inner.selected_option))) {
        showErrors({ [block.block_id]: "Please complete this required field." });
        return;
      }
    }
  }
  $("modal-submit").disabled = true;
  try {
    const answer = await api("/api/view", { user: ui.user, view_id: view.id, values: modalValues(view) });
    if (answer.ok) { $("modal").hidden = true; ui.viewId = null; ui.view = null; }
    else showErrors(answer.errors || {});
  } catch (error) { $("modal-error").textContent = error.message; } finally {
    $("modal-submit").disabled = false;
    refresh();
  }
}

async function cancelModal() {
  const view = ui.view;
  $("modal").hidden = true;
  ui.viewId = null;
  ui.view = null;
  if (!view) return;
  try { await api("/api/view", { user: ui.user, view_id: view.id, cancel: true }); } catch (error) { toast(error.message); }
  refresh();
}

// ------------------------------------------------------------------ start

function start() {
  wireComposer("composer");
  wireComposer("thread");
  $("user-picker").addEventListener("change", (event) => {
    ui.user = event.target.value;
    localStorage.setItem("sandbox.user", ui.user);
    ui.viewId = null;
    if (ui.home) openHome(); else refresh();
  });
  $("app-home-link").addEventListener("click", openHome);
  $("tab-home").addEventListener("click", openHome);
  $("tab-messages").addEventListener("click", openMessagesTab);
  $("thread-close").addEventListener("click", () => { ui.thread = null; render(); });
  $("modal-form").addEventListener("submit", submitModal);
  $("workflow-form").addEventListener("submit", runWorkflow);
  $("modal-cancel").addEventListener("click", cancelModal);
  $("modal-x").addEventListener("click", cancelModal);
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !$("modal").hidden) cancelModal(); });
  const events = new EventSource("/api/events");
  events.onmessage = () => refresh();
  events.onopen = () => { $("status").textContent = "live"; refresh(); };
  events.onerror = () => { $("status").textContent = "reconnecting…"; };
  refresh();
}

start();
