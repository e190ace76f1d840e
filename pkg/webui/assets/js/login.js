// Log in and sign up. The token and user id go to localStorage; the
// server's message is shown under the form when it says no.

import { api, session } from './api.js';
import { h, topbar } from './ui.js';

export function loginPage(root, _params, query) {
  let mode = query.get('mode') === 'register' ? 'register' : 'login';
  const next = safeNext(query.get('next'));

  const user = h('input', {
    id: 'username', name: 'username', type: 'text', autocomplete: 'username', required: true, maxlength: 32, autocapitalize: 'none', spellcheck: 'false',
  });
  const pass = h('input', {
    id: 'password', name: 'password', type: 'password', required: true, maxlength: 32,
  });
  const error = h('p', { class: 'form-error', role: 'alert', id: 'login-error' });
  const submit = h('button', { type: 'submit', class: 'btn primary wide' });
  const hint = h('p', { class: 'hint', id: 'password-hint' });
  const tabLogin = h('button', { type: 'button', role: 'tab', id: 'tab-login', onclick: () => setMode('login') }, 'Log in');
  const tabRegister = h('button', { type: 'button', role: 'tab', id: 'tab-register', onclick: () => setMode('register') }, 'Sign up');
  pass.setAttribute('aria-describedby', 'password-hint login-error');

  function setMode(m) {
    mode = m;
    tabLogin.setAttribute('aria-selected', String(m === 'login'));
    tabRegister.setAttribute('aria-selected', String(m === 'register'));
    submit.textContent = m === 'login' ? 'Log in' : 'Create account';
    pass.autocomplete = m === 'login' ? 'current-password' : 'new-password';
    hint.textContent = m === 'login' ? '' : 'Username up to 32 characters; password 6 to 32 characters.';
    error.textContent = '';
  }

  const form = h('form', {
    class: 'card auth-form',
    'aria-labelledby': 'auth-title',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      submit.disabled = true;
      try {
        const res = mode === 'login'
          ? await api.login(user.value, pass.value)
          : await api.register(user.value, pass.value);
        session.set(res.user_id, res.token);
        location.replace(next);
      } catch (err) {
        error.textContent = err.message;
        pass.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('div', { class: 'segmented', role: 'tablist', 'aria-label': 'Log in or sign up' }, tabLogin, tabRegister),
  h('label', { for: 'username' }, 'Username'), user,
  h('label', { for: 'password' }, 'Password'), pass,
  hint,
  error,
  submit);

  setMode(mode);
  root.append(
    topbar('Douyin lite', { back: next }),
    h('div', { class: 'page-body center' },
      h('div', { class: 'brand' },
        h('img', { src: '/web/icon.svg', alt: 'Douyin lite logo', width: 64, height: 64 }),
        h('h2', { id: 'auth-title' }, 'Welcome'),
        h('p', { class: 'muted' }, 'Log in to like, comment, follow and chat.')),
      form,
      session.loggedIn ? h('p', { class: 'muted center-text' }, 'You are already logged in; logging in again switches account.') : null,
      h('p', { class: 'muted center-text' }, 'Building a client? ', h('a', { href: '/web/api.html' }, 'API reference'))));
  user.focus();
}

// safeNext only lets the app send people on to one of its own pages.
function safeNext(next) {
  if (next && /^#\/[\w/?=&%-]*$/.test(next) && !next.startsWith('#/login')) return next;
  return '#/feed';
}
