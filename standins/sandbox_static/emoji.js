// Emoji for the sandbox page, drawn as small inline SVGs shipped with it: no emoji font is needed (a machine
// without one would show empty boxes). Each covers a shortcode imagebot sends (grep ':[a-z_]+:' in handlers/),
// plus a few people type. Unknown shortcodes stay as text, as Slack shows a name it does not know.
"use strict";

const EMOJI_SVG = (() => {
  const R = (fill, inner) => `<rect x="1" y="1" width="14" height="14" rx="3" fill="${fill}"/>${inner}`;
  const C = (fill, inner) => `<circle cx="8" cy="8" r="7" fill="${fill}"/>${inner}`;
  const W = 'stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" fill="none"';
  const D = 'stroke="#444" stroke-width="1.4" stroke-linecap="round" stroke-linejoin="round" fill="none"';
  const check = `<path d="M4 8.5l2.6 2.6L12 5.5" ${W}/>`;
  const cross = `<path d="M5 5l6 6M11 5l-6 6" ${W}/>`;
  const hourglass = '<path d="M4 1.5h8M4 14.5h8M5 2c0 4 6 4 6 6s-6 2-6 6M11 2c0 4-6 4-6 6s6 2 6 6" stroke="#8a6d3b" stroke-width="1.3" fill="none"/>';
  const shapes = {
    warning: '<path d="M8 1.5L15 14H1z" fill="#f2c200" stroke="#b58900" stroke-width=".8"/><path d="M8 5.5v4.2" stroke="#222" stroke-width="1.8" stroke-linecap="round"/><circle cx="8" cy="12" r="1" fill="#222"/>',
    white_check_mark: R("#2eb67d", check),
    heavy_check_mark: `<path d="M3 8.5l3.2 3.2L13 4.5" stroke="#333" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round" fill="none"/>`,
    x: `<path d="M3.5 3.5l9 9M12.5 3.5l-9 9" stroke="#dd2e44" stroke-width="2.6" stroke-linecap="round"/>`,
    no_entry: C("#dd2e44", '<rect x="3.5" y="6.8" width="9" height="2.4" rx="1" fill="#fff"/>'),
    no_entry_sign: '<circle cx="8" cy="8" r="6" fill="none" stroke="#dd2e44" stroke-width="2"/><path d="M3.8 3.8l8.4 8.4" stroke="#dd2e44" stroke-width="2"/>',
    hourglass: `<path d="M5 2.5h6L8 8zM5 13.5h6L8 8z" fill="#f4d58d"/>${hourglass}`,
    hourglass_flowing_sand: `<path d="M6 3.5h4L8 7.5zM5 13.5h6L8 10.5z" fill="#e0a526"/>${hourglass}`,
    frame_with_picture: '<rect x="1" y="2" width="14" height="12" rx="1" fill="#a0522d"/><rect x="2.6" y="3.6" width="10.8" height="8.8" fill="#bfe3f5"/><path d="M2.6 12.4l3.6-4.4 2.4 2.6 1.8-1.8 3 3.6z" fill="#3a9d5d"/><circle cx="11" cy="6" r="1.2" fill="#f5c400"/>',
    moneybag: '<path d="M6 2.2h4L9 4.2H7z" fill="#c8a24a"/><path d="M7 4.2h2c3.5 1.6 5 4 5 6.3 0 2.4-2.3 3.5-6 3.5s-6-1.1-6-3.5c0-2.3 1.5-4.7 5-6.3z" fill="#e5b94e"/><text x="8" y="12.6" font-size="7" font-weight="700" text-anchor="middle" fill="#6b4e00" font-family="sans-serif">$</text>',
    money_with_wings: '<path d="M1 6l3-3 1 3zM15 6l-3-3-1 3z" fill="#ccc"/><rect x="3" y="5" width="10" height="7" rx="1" fill="#5cb85c"/><text x="8" y="11" font-size="6.5" font-weight="700" text-anchor="middle" fill="#fff" font-family="sans-serif">$</text>',
    credit_card: '<rect x="1" y="3" width="14" height="10" rx="1.5" fill="#3b6fd4"/><rect x="1" y="5.2" width="14" height="2" fill="#1c2f5a"/><rect x="3" y="9.5" width="5" height="1.4" fill="#fff"/>',
    straight_ruler: '<path d="M2 11L11 2l3 3-9 9z" fill="#f2c94c" stroke="#a07d12" stroke-width=".7"/><path d="M5 8l1.2 1.2M7 6l1.2 1.2M9 4l1.2 1.2" stroke="#a07d12" stroke-width=".8"/>',
    rotating_light: '<rect x="2" y="12" width="12" height="2.5" rx=".8" fill="#777"/><path d="M3.5 12V8a4.5 4.5 0 019 0v4z" fill="#dd2e44"/><path d="M6 8a2 2 0 012-2" stroke="#fff" stroke-width="1.2" fill="none"/>',
    point_right: `<path d="M2 8h10M9 4.5L12.5 8 9 11.5" stroke="#d99e58" stroke-width="2.4" stroke-linecap="round" stroke-linejoin="round" fill="none"/>`,
    lock: '<path d="M5 7V5a3 3 0 016 0v2" stroke="#888" stroke-width="1.6" fill="none"/><rect x="3" y="7" width="10" height="7.5" rx="1.5" fill="#f2b600"/><circle cx="8" cy="10.5" r="1.2" fill="#6b4e00"/>',
    key: '<circle cx="5" cy="8" r="3.2" fill="none" stroke="#d4a017" stroke-width="1.8"/><path d="M8 8h6.5M12 8v2.5M14 8v2" stroke="#d4a017" stroke-width="1.8" stroke-linecap="round"/>',
    leftwards_arrow_with_hook: R("#3b88c3", `<path d="M11.5 4.5v2.5a2.5 2.5 0 01-2.5 2.5H4.5M7 7L4.5 9.5 7 12" ${W}/>`),
    arrows_counterclockwise: R("#3b88c3", `<path d="M11.6 6.2A4 4 0 004.2 6.8M4.4 9.8a4 4 0 007.4-.6" ${W}/><path d="M4 4.4v2.6h2.6M12 11.6V9h-2.6" ${W}/>`),
    identification_card: '<rect x="1" y="3" width="14" height="10" rx="1.5" fill="#5b9bd5"/><circle cx="5" cy="7.2" r="1.7" fill="#fff"/><path d="M2.5 11.5a2.5 2.5 0 015 0z" fill="#fff"/><path d="M9 6.5h4.5M9 9h4.5" stroke="#fff" stroke-width="1.2"/>',
    floppy_disk: '<path d="M2 2h10l2 2v10H2z" fill="#31373d"/><rect x="4.5" y="2" width="6" height="4" fill="#ccd6dd"/><rect x="4" y="9" width="8" height="5" fill="#fff"/>',
    eyes: '<ellipse cx="5" cy="8" rx="3" ry="4.5" fill="#fff" stroke="#444"/><ellipse cx="11" cy="8" rx="3" ry="4.5" fill="#fff" stroke="#444"/><circle cx="5.8" cy="8.5" r="1.5" fill="#222"/><circle cx="11.8" cy="8.5" r="1.5" fill="#222"/>',
    electric_plug: '<path d="M6 1.5v3.5M10 1.5v3.5" stroke="#999" stroke-width="1.5"/><path d="M4 5h8v3a4 4 0 01-8 0z" fill="#555"/><path d="M8 12v3" stroke="#555" stroke-width="2"/>',
    calendar: '<rect x="1.5" y="2.5" width="13" height="12" rx="1.5" fill="#fff" stroke="#999"/><rect x="1.5" y="2.5" width="13" height="3.5" rx="1.5" fill="#dd2e44"/><text x="8" y="13" font-size="6.5" font-weight="700" text-anchor="middle" fill="#333" font-family="sans-serif">17</text>',
    wastebasket: '<path d="M3 4.5h10M6.5 4.5V3h3v1.5" stroke="#8899a6" stroke-width="1.4" fill="none"/><path d="M4 5.5h8l-.8 9H4.8z" fill="#99aab5"/><path d="M6.5 7v6M9.5 7v6" stroke="#fff" stroke-width=".9"/>',
    art: '<path d="M8 1.5a6.5 6.5 0 100 13c1.2 0 1.4-1 .8-1.7-.6-.8-.2-1.8.8-1.8H11a3.5 3.5 0 003.5-3.5C14.5 4.2 11.6 1.5 8 1.5z" fill="#d99e82"/><circle cx="4.5" cy="7.5" r="1.2" fill="#dd2e44"/><circle cx="6.5" cy="4.5" r="1.2" fill="#2eb67d"/><circle cx="10" cy="4.3" r="1.2" fill="#3b88c3"/><circle cx="12" cy="7" r="1.1" fill="#f2c200"/>',
    sparkles: '<path d="M6 1.5l1.3 3.7L11 6.5 7.3 7.8 6 11.5 4.7 7.8 1 6.5l3.7-1.3zM11.5 9l.8 2.2 2.2.8-2.2.8-.8 2.2-.8-2.2-2.2-.8 2.2-.8z" fill="#f5c400"/>',
    tada: '<path d="M1.5 14.5L5 4.5l6.5 6.5z" fill="#f5a623"/><circle cx="10" cy="3" r="1" fill="#dd2e44"/><circle cx="13.5" cy="6" r="1" fill="#3b88c3"/><path d="M9 6l3.5-3.5M11 8.5l3-1" stroke="#2eb67d" stroke-width="1.2" stroke-linecap="round"/>',
    thumbsup: '<path d="M5 7l3-5.5c1.3 0 2 .8 1.7 2.3L9.3 6H13a1.5 1.5 0 011.5 1.8l-1 5.2A1.5 1.5 0 0112 14.5H5z" fill="#f7c15b"/><rect x="1.5" y="7" width="3" height="7.5" rx=".8" fill="#d99e58"/>',
    bulb: '<path d="M8 1.5a4.5 4.5 0 00-2.7 8.1c.5.4.7 1 .7 1.6v.8h4v-.8c0-.6.2-1.2.7-1.6A4.5 4.5 0 008 1.5z" fill="#ffd83b"/><rect x="6" y="12.5" width="4" height="2.2" rx=".6" fill="#999"/>',
    page_facing_up: '<path d="M3 1.5h7l3 3v10H3z" fill="#fff" stroke="#999"/><path d="M10 1.5v3h3" fill="none" stroke="#999"/><path d="M5 7h6M5 9.5h6M5 12h4" stroke="#bbb" stroke-width="1"/>',
    memo: '<path d="M3 1.5h7l3 3v10H3z" fill="#fff" stroke="#999"/><path d="M5 6h6M5 8.5h6M5 11h4" stroke="#3b88c3" stroke-width="1"/>',
    chart_with_upwards_trend: '<rect x="1.5" y="1.5" width="13" height="13" rx="1.5" fill="#fff" stroke="#999"/><path d="M3.5 12l3-4 2.5 2 3.5-5.5" stroke="#dd2e44" stroke-width="1.6" fill="none" stroke-linejoin="round"/>',
    information_source: R("#3b88c3", '<circle cx="8" cy="4.6" r="1.2" fill="#fff"/><path d="M8 7.2v5" stroke="#fff" stroke-width="2" stroke-linecap="round"/>'),
    question: '<path d="M5.2 5.5a2.8 2.8 0 115 1.6c-.8.9-2.2 1.4-2.2 3" stroke="#dd2e44" stroke-width="2.2" stroke-linecap="round" fill="none"/><circle cx="8" cy="13.3" r="1.3" fill="#dd2e44"/>',
    hammer_and_wrench: `<path d="M3 13L10 6M6 13l7-7" ${D}/><path d="M9 3.5l3.5 3.5 1.5-1.5L10.5 2z" fill="#888"/><circle cx="3.5" cy="12.5" r="1.6" fill="#888"/>`,
    heavy_multiplication_x: `<path d="M4 4l8 8M12 4l-8 8" stroke="#333" stroke-width="2.4" stroke-linecap="round"/>`,
    negative_squared_cross_mark: R("#2eb67d", cross),
  };
  shapes["+1"] = shapes.thumbsup;
  const svgs = {};
  for (const [name, inner] of Object.entries(shapes)) {
    svgs[name] = `<svg class="emoji" viewBox="0 0 16 16" width="1.1em" height="1.1em" role="img" aria-label=":${name}:"><title>:${name}:</title>${inner}</svg>`;
  }
  return svgs;
})();

// Replaces :shortcode: in already-escaped HTML with its glyph; unknown names stay as they were typed.
function emojiHtml(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI_SVG[name] || whole);
}
