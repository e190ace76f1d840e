// Friends (people who follow each other) with the latest message of each
// conversation; a tap opens the chat.

import { api, session } from './api.js';
import { h, icon, avatar, topbar, showError, spinner, empty } from './ui.js';

export function friendsPage(root) {
  const alive = { on: true };
  const body = h('div', { class: 'page-body' }, spinner('Loading friends'));
  root.append(topbar('Friends', {
    back: false,
    actions: [h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Refresh friends', onclick: load }, icon('refresh'))],
  }), body);

  async function load() {
    try {
      const res = await api.friendList(session.userId);
      if (!alive.on) return;
      draw(res.user_list || []);
    } catch (err) {
      if (!alive.on) return;
      showError(err);
      body.replaceChildren(h('div', { class: 'end-card' }, h('p', {}, err.message),
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Try again')));
    }
  }

  function draw(friends) {
    if (!friends.length) {
      body.replaceChildren(empty('No friends yet. When someone you follow follows you back, they show up here and you can chat.'));
      return;
    }
    body.replaceChildren(h('ul', { class: 'people friends' }, friends.map((f) => {
      const last = f.message ? (f.msgType === 1 ? `You: ${f.message}` : f.message) : 'Say hi 👋';
      return h('li', { class: 'person' },
        h('a', { href: `#/chat/${f.id}`, class: 'person-link' },
          avatar(f, 52),
          h('span', { class: 'person-text' },
            h('strong', {}, f.name),
            h('span', { class: f.message ? 'last-msg' : 'muted' }, last))));
    })));
  }

  load();
  return () => {
    alive.on = false;
  };
}
