// The comments panel: a bottom sheet over the video with the comments
// (newest first), a box to add one, and delete on one's own.

import { api, session } from './api.js';
import { h, icon, avatar, showError, spinner, empty } from './ui.js';

// openComments shows the panel for video v; onCount gets the new comment
// count after each change.
export function openComments(v, onCount) {
  let total = v.comment_count;
  const heading = h('h2', { id: 'comments-title' });
  const setTotal = (n) => {
    total = Math.max(0, n);
    heading.textContent = total === 1 ? '1 comment' : `${total} comments`;
    onCount(total);
  };
  heading.textContent = total === 1 ? '1 comment' : `${total} comments`;

  const list = h('ul', { class: 'comment-list', 'aria-labelledby': 'comments-title' });
  const status = h('div', { class: 'comment-status' }, spinner('Loading comments'));
  const dialog = h('dialog', { class: 'sheet', 'aria-labelledby': 'comments-title' });
  const close = () => dialog.close();

  const row = (c) => {
    const mine = session.loggedIn && (c.user.id === session.userId || v.author.id === session.userId);
    const li = h('li', { class: 'comment', dataset: { id: c.id } },
      avatar(c.user, 36),
      h('div', { class: 'comment-body' },
        h('div', { class: 'comment-head' },
          h('a', { href: `#/profile/${c.user.id}`, class: 'comment-author', onclick: close }, c.user.name),
          h('span', { class: 'muted' }, c.create_date)),
        h('p', { class: 'comment-text' }, c.content)),
      mine ? h('button', {
        type: 'button',
        class: 'icon-btn small',
        'aria-label': `Delete comment: ${c.content.slice(0, 40)}`,
        onclick: async (e) => {
          const btn = e.currentTarget;
          btn.disabled = true;
          try {
            await api.deleteComment(v.id, c.id);
            li.remove();
            setTotal(total - 1);
            if (!list.children.length) status.replaceChildren(empty('No comments yet. Say something nice!'));
          } catch (err) {
            btn.disabled = false;
            showError(err);
          }
        },
      }, icon('trash')) : null);
    return li;
  };

  let form;
  if (session.loggedIn) {
    const input = h('input', {
      id: 'comment-input', type: 'text', name: 'comment_text', maxlength: 500, autocomplete: 'off', placeholder: 'Add a comment…', required: true,
    });
    const send = h('button', { type: 'submit', class: 'btn send-btn' }, 'Post');
    const error = h('p', { class: 'form-error', role: 'alert' });
    form = h('form', {
      class: 'comment-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const text = input.value;
        error.textContent = '';
        send.disabled = true;
        try {
          const res = await api.addComment(v.id, text);
          input.value = '';
          if (res.comment) {
            status.replaceChildren();
            list.prepend(row(res.comment));
          }
          setTotal(total + 1);
        } catch (err) {
          error.textContent = err.message;
          showError(err);
        } finally {
          send.disabled = false;
          input.focus();
        }
      },
    }, h('label', { class: 'sr-only', for: 'comment-input' }, 'Comment'), input, send, error);
  } else {
    form = h('p', { class: 'comment-login' },
      h('a', { href: `#/login?next=${encodeURIComponent(location.hash || '#/feed')}`, onclick: close }, 'Log in'), ' to add a comment.');
  }

  dialog.append(
    h('div', { class: 'sheet-head' },
      heading,
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close comments', onclick: close }, icon('close'))),
    h('div', { class: 'sheet-body' }, status, list),
    form);
  dialog.addEventListener('close', () => dialog.remove());
  // A click on the backdrop (the dialog box itself, outside its content)
  // closes the panel.
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) close();
  });
  window.addEventListener('hashchange', close, { once: true });
  document.body.append(dialog);
  dialog.showModal();

  api.comments(v.id).then((res) => {
    const comments = res.comment_list || [];
    list.replaceChildren(...comments.map(row));
    status.replaceChildren(comments.length ? '' : empty('No comments yet. Say something nice!'));
    if (comments.length !== total && comments.length < 100) setTotal(comments.length);
  }).catch((err) => {
    status.replaceChildren(h('p', { class: 'form-error' }, err.message));
    showError(err);
  });
}
