// Slack's mrkdwn as Slack draws it (https://docs.slack.dev/messaging/formatting-message-text): & < > arrive
// escaped; <…> are entities (user and channel mentions, links, dates); `code` and ```blocks``` are literal;
// *bold*, _italic_ and ~strike~ may wrap code, mentions and each other; "> " starts a quote; :shortcodes: are emoji.
"use strict";

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function slackUnescape(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// lookup: { user(id) -> name | undefined, channel(id) -> name | undefined }
function mrkdwnEntity(inner, lookup) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? "" : inner.slice(bar + 1);
  if (/^@[UWB][A-Z0-9]+$/.test(target)) {
    return `<span class="mention">@${escapeHtml(slackUnescape(label || lookup.user(target.slice(1)) || target.slice(1)))}</span>`;
  }
  if (/^#[CGD][A-Z0-9]+$/.test(target)) {
    return `<span class="mention">#${escapeHtml(slackUnescape(label || lookup.channel(target.slice(1)) || target.slice(1)))}</span>`;
  }
  if (/^!(here|channel|everyone)$/.test(target)) return `<span class="mention">@${target.slice(1)}</span>`;
  const date = /^!date\^(\d+)\^/.exec(target);
  if (date) {
    const moment = new Date(parseInt(date[1], 10) * 1000);
    return escapeHtml(moment.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }));
  }
  if (/^(https?:\/\/|mailto:)/.test(target)) {
    const url = slackUnescape(target);
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(slackUnescape(label || target))}</a>`;
  }
  return escapeHtml(slackUnescape(label || target));
}

// One line: literal pieces (code, entities, emoji) are set aside as \u0001N\u0002, formatting runs over the rest
// (so `_next: `undo`_` is italic around its code), then the pieces come back.
function mrkdwnLine(line, lookup) {
  const kept = [];
  const keep = (html) => { kept.push(html); return `\u0001${kept.length - 1}\u0002`; };
  let html = line.replace(/`([^`\n]+)`/g, (w, code) => keep(`<code>${escapeHtml(slackUnescape(code))}</code>`))
    .split(/(<[^<>\n]+>)/).map((part) => (/^<[^<>\n]+>$/.test(part) ? keep(mrkdwnEntity(part.slice(1, -1), lookup))
      : escapeHtml(slackUnescape(part)))).join("");
  html = html.replace(/:([a-z0-9_+-]+):/g, (whole, name) => (EMOJI_SVG[name] ? keep(EMOJI_SVG[name]) : whole));
  const open = "(^|[\\s(\"'\u0002>])";
  const close = "(?=$|[\\s).,!?:;\"'\u0001<])";
  for (const [mark, tag] of [["\\*", "b"], ["_", "i"], ["~", "s"]]) {
    const pattern = new RegExp(`${open}${mark}([^\\s${mark}](?:[^${mark}\\n]*?[^\\s${mark}])?)${mark}${close}`, "g");
    html = html.replace(pattern, `$1<${tag}>$2</${tag}>`);
  }
  return html.replace(/\u0001(\d+)\u0002/g, (w, i) => kept[parseInt(i, 10)]);
}

function mrkdwn(text, lookup) {
  const out = [];
  String(text || "").split("```").forEach((chunk, i) => {
    if (i % 2 === 1) { out.push(`<pre>${escapeHtml(slackUnescape(chunk.replace(/^\n/, "")))}</pre>`); return; }
    out.push(chunk.split("\n").map((line) => {
      const quoted = /^(?:>|&gt;) ?(.*)$/.exec(line);
      return quoted ? `<span class="quote">${mrkdwnLine(quoted[1], lookup)}</span>` : mrkdwnLine(line, lookup);
    }).join("<br>"));
  });
  return out.join("");
}
