// A conversation, polled every second the way the phone app does it: the
// first request has pre_msg_time 0 and returns the whole conversation;
// later ones send the create_time of the last message seen and get only
// the newer messages sent to us, which are appended as they come. Our own
// messages are drawn here as they are sent, never fetched again.

import { api, session } from './api.js';
import { h, icon, avatar, clock, topbar, showError } from './ui.js';

const POLL_MS = 1000;

export function chatPage(root, params) {
  const peer = Number(params[0]);
  const alive = { on: true };
  let lastTime = 0; // create_time of the last message seen; 0: none yet
  let timer = 0;
  let sending = 0; // own messages on their way
  let offline = false;

  const title = h('h1', {}, 'Chat');
  const bar = topbar('', { back: '#/friends' });
  bar.querySelector('h1').replaceWith(h('a', { class: 'chat-peer', href: `#/profile/${peer}` }, title));
  const list = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const scroller = h('div', { class: 'chat-scroll' }, list);
  const banner = h('p', { class: 'banner', role: 'status', hidden: true }, 'Connection lost, retrying…');
  const input = h('input', {
    id: 'chat-input', name: 'content', type: 'text', maxlength: 500, autocomplete: 'off', placeholder: 'Message…', required: true, enterkeyhint: 'send',
  });
  const send = h('button', { type: 'submit', class: 'icon-btn send', 'aria-label': 'Send' }, icon('send'));
  const form = h('form', { class: 'chat-form', onsubmit: onSend },
    h('label', { class: 'sr-only', for: 'chat-input' }, 'Message'), input, send);
  root.append(bar, banner, scroller, form);

  if (peer === session.userId) {
    list.append(h('li', { class: 'empty' }, 'This is you. Pick a friend to chat with.'));
    form.hidden = true;
    return () => {};
  }

  api.user(peer).then((res) => {
    if (!alive.on) return;
    title.textContent = res.user.name;
    title.before(avatar(res.user, 32));
  }).catch((err) => {
    if (alive.on) showError(err);
  });

  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const toBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };

  function bubble(m, mine) {
    return h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, dataset: m.id ? { id: m.id } : {} },
      h('p', { class: 'msg-text' }, m.content),
      h('time', { class: 'msg-time', datetime: new Date(m.create_time).toISOString() }, clock(m.create_time)));
  }

  async function poll() {
    timer = 0;
    if (!alive.on) return;
    // While our first message is on its way the whole conversation
    // would return it too; wait for the send to finish.
    if (lastTime === 0 && sending > 0) {
      schedule();
      return;
    }
    const pre = lastTime;
    let res;
    try {
      res = await api.chat(peer, pre);
    } catch (err) {
      if (!alive.on) return;
      if (!offline) showError(err);
      offline = true;
      banner.hidden = false;
      if (!err.needsLogin) schedule();
      return;
    }
    if (!alive.on) return;
    offline = false;
    banner.hidden = true;
    const msgs = res.message_list || [];
    if (msgs.length) {
      const stick = nearBottom();
      const me = session.userId;
      if (pre === 0) {
        // The whole conversation, both directions: it replaces the own
        // messages drawn so far, which it contains.
        list.replaceChildren(...msgs.map((m) => bubble(m, m.from_user_id === me)));
      } else {
        list.append(...msgs.map((m) => bubble(m, m.from_user_id === me)));
      }
      lastTime = Math.max(lastTime, ...msgs.map((m) => Number(m.create_time) || 0));
      if (stick || pre === 0) toBottom();
    } else if (pre === 0 && !list.children.length) {
      list.append(h('li', { class: 'empty', id: 'chat-empty' }, 'No messages yet. Say hi!'));
    }
    schedule();
  }

  function schedule() {
    if (alive.on && !timer) timer = setTimeout(poll, POLL_MS);
  }

  async function onSend(e) {
    e.preventDefault();
    const content = input.value;
    if (!content.trim()) return;
    input.value = '';
    const placeholder = list.querySelector('#chat-empty');
    if (placeholder) placeholder.remove();
    const el = bubble({ content, create_time: Date.now() }, true);
    el.classList.add('pending');
    list.append(el);
    toBottom();
    sending++;
    try {
      await api.sendMessage(peer, content);
      el.classList.remove('pending');
    } catch (err) {
      el.classList.remove('pending');
      el.classList.add('failed');
      el.append(h('span', { class: 'msg-error' }, `Not sent: ${err.message}`));
      showError(err);
    } finally {
      sending--;
    }
  }

  poll();
  input.focus();
  return () => {
    alive.on = false;
    clearTimeout(timer);
  };
}
