// Small DOM helpers shared by the views. Text from the server only ever
// goes in through textContent, never as HTML.

import { mediaURL } from './api.js';

// h builds an element: h('button', {class: 'x', onclick: f}, 'text', child).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k in el && typeof v !== 'string') {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// The icons are fixed markup written here, never data.
const ICONS = {
  home: '<path d="M3 10.5 12 3l9 7.5V21h-6v-6H9v6H3z"/>',
  friends: '<path d="M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm7 0a3.5 3.5 0 1 0-1.4-6.7A6 6 0 0 1 15.9 11zM1 20c0-3.9 3.6-6.5 8-6.5s8 2.6 8 6.5v1H1zm18 1v-1c0-2-.8-3.8-2.2-5.1 3.5.4 6.2 2.5 6.2 5.1v1z"/>',
  plus: '<path d="M11 4h2v7h7v2h-7v7h-2v-7H4v-2h7z"/>',
  user: '<path d="M12 12a5 5 0 1 0 0-10 5 5 0 0 0 0 10zm0 2c-5 0-9 2.7-9 6.5V22h18v-1.5C21 16.7 17 14 12 14z"/>',
  heart: '<path d="M12 21.3 10.6 20C5.4 15.4 2 12.3 2 8.5A5.4 5.4 0 0 1 7.5 3 6 6 0 0 1 12 5.1 6 6 0 0 1 16.5 3 5.4 5.4 0 0 1 22 8.5c0 3.8-3.4 6.9-8.6 11.5z"/>',
  comment: '<path d="M12 3C6.5 3 2 6.9 2 11.7c0 2.6 1.3 4.9 3.4 6.5L4.6 22l4.3-2.3c1 .3 2 .4 3.1.4 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/>',
  check: '<path d="m9.5 16.2-4.2-4.2-1.4 1.4 5.6 5.6 11-11-1.4-1.4z"/>',
  back: '<path d="M15.4 4.6 14 3.2 5.2 12l8.8 8.8 1.4-1.4L8 12z"/>',
  close: '<path d="M18.3 5.7 16.9 4.3 12 9.2 7.1 4.3 5.7 5.7 10.6 10.6 5.7 15.5l1.4 1.4 4.9-4.9 4.9 4.9 1.4-1.4-4.9-4.9z"/>',
  muted: '<path d="M3 9v6h4l5 5V4L7 9zm13.6 3 2.7-2.7-1.4-1.4-2.7 2.7-2.7-2.7-1.4 1.4 2.7 2.7-2.7 2.7 1.4 1.4 2.7-2.7 2.7 2.7 1.4-1.4z"/>',
  sound: '<path d="M3 9v6h4l5 5V4L7 9zm13.5 3A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z"/>',
  play: '<path d="M8 5v14l11-7z"/>',
  send: '<path d="M2 21 23 12 2 3v7l15 2-15 2z"/>',
  trash: '<path d="M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z"/>',
  refresh: '<path d="M17.6 6.4A8 8 0 1 0 19.7 14h-2.1a6 6 0 1 1-1.4-6.2L13 11h7V4z"/>',
  upload: '<path d="M5 20h14v-2H5zm0-10h4v6h6v-6h4l-7-7z"/>',
  chat: '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/>',
};

export function icon(name, cls = '') {
  const span = document.createElement('span');
  span.className = `ico ${cls}`.trim();
  span.setAttribute('aria-hidden', 'true');
  span.innerHTML = `<svg viewBox="0 0 24 24" width="24" height="24" fill="currentColor" focusable="false">${ICONS[name] || ''}</svg>`;
  return span;
}

// fillIcons replaces <span data-icon="x"> placeholders in static markup.
export function fillIcons(root) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    el.replaceWith(icon(el.dataset.icon));
  }
}

export function avatar(user, size = 40, cls = '') {
  return h('img', {
    class: `avatar ${cls}`.trim(),
    src: mediaURL(user.avatar),
    alt: `${user.name}'s avatar`,
    width: size,
    height: size,
    loading: 'lazy',
    decoding: 'async',
  });
}

// count writes 1234 as 1.2K, like the app.
export function count(n) {
  n = Number(n) || 0;
  if (n < 10000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e5 ? 1 : 0).replace(/\.0$/, '')}K`;
  return `${(n / 1e6).toFixed(1).replace(/\.0$/, '')}M`;
}

export function clock(ms) {
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  const hm = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (d.toDateString() === now.toDateString()) return hm;
  return `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${hm}`;
}

// toast shows a short message; kind 'error' is announced assertively.
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(t);
  const ttl = kind === 'error' ? 5000 : 2500;
  setTimeout(() => {
    t.classList.add('leaving');
    setTimeout(() => t.remove(), 300);
  }, ttl);
  return t;
}

export function showError(err) {
  toast(err && err.message ? err.message : 'Something went wrong. Please try again.', 'error');
}

// topbar is the header of every page but the feed.
export function topbar(title, { back = true, actions = [] } = {}) {
  return h('header', { class: 'topbar' },
    back ? h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Back', onclick: () => goBack(typeof back === 'string' ? back : undefined) }, icon('back')) : h('span', { class: 'topbar-gap' }),
    h('h1', {}, title),
    h('div', { class: 'topbar-actions' }, actions));
}

// goBack returns to the previous page of the app; the router numbers its
// history entries, so Back never leaves the app for the page before it.
export function goBack(fallback = '#/feed') {
  const st = window.history.state;
  if (st && st.depth > 0) window.history.back();
  else location.hash = fallback;
}

export function spinner(label = 'Loading') {
  return h('div', { class: 'spinner', role: 'progressbar', 'aria-label': label });
}

export function empty(text) {
  return h('p', { class: 'empty' }, text);
}
