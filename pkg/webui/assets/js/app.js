// The app shell: a hash router (#/feed, #/login, #/profile/:id, #/upload,
// #/friends, #/chat/:id) that shows one page at a time. The feed stays
// alive between pages, so coming back keeps its place.

import { session } from './api.js';
import { fillIcons, toast } from './ui.js';
import { FeedView } from './feed.js';
import { loginPage } from './login.js';
import { profilePage } from './profile.js';
import { uploadPage } from './upload.js';
import { friendsPage } from './friends.js';
import { chatPage } from './chat.js';

// Each route: a pattern, the page, whether it needs a login, the tab it
// belongs to, and whether the tab bar shows.
const ROUTES = [
  { re: /^\/feed$/, page: 'feed', tab: 'feed' },
  { re: /^\/login$/, page: loginPage, tabbar: false },
  { re: /^\/profile$/, page: profilePage, auth: true, tab: 'profile' },
  { re: /^\/profile\/(\d+)$/, page: profilePage, tab: (id) => (Number(id) === session.userId ? 'profile' : '') },
  { re: /^\/upload$/, page: uploadPage, auth: true, tab: 'upload' },
  { re: /^\/friends$/, page: friendsPage, auth: true, tab: 'friends' },
  { re: /^\/chat\/(\d+)$/, page: chatPage, auth: true, tab: 'friends', tabbar: false },
];

const feedEl = document.getElementById('feed-view');
const pageEl = document.getElementById('page-view');
const tabbar = document.getElementById('tabbar');
const feed = new FeedView(feedEl);
let cleanup = null;

function parse() {
  const raw = location.hash.replace(/^#/, '') || '/feed';
  const [path, qs = ''] = raw.split('?');
  return { path: path.replace(/\/+$/, '') || '/feed', query: new URLSearchParams(qs) };
}

function leave() {
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
    cleanup = null;
  }
}

function render() {
  const { path, query } = parse();
  const route = ROUTES.find((r) => r.re.test(path));
  if (!route) {
    location.replace('#/feed');
    return;
  }
  if (route.auth && !session.loggedIn) {
    location.replace(`#/login?next=${encodeURIComponent(`#${path}`)}`);
    return;
  }
  leave();
  const params = path.match(route.re).slice(1);
  const tab = typeof route.tab === 'function' ? route.tab(...params) : route.tab;
  for (const a of tabbar.querySelectorAll('a')) {
    if (a.dataset.nav === tab) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  tabbar.hidden = route.tabbar === false;
  document.body.dataset.page = route.page === 'feed' ? 'feed' : path.split('/')[1];

  if (route.page === 'feed') {
    pageEl.hidden = true;
    pageEl.replaceChildren();
    feedEl.hidden = false;
    feed.show();
    cleanup = () => {
      feed.hide();
      feedEl.hidden = true;
    };
    return;
  }
  feedEl.hidden = true;
  pageEl.hidden = false;
  pageEl.replaceChildren();
  pageEl.scrollTop = 0;
  const off = route.page(pageEl, params, query);
  cleanup = typeof off === 'function' ? off : null;
}

// Number the history entries, so Back can tell whether there is an app
// page to return to.
function numberEntry(prev) {
  if (!history.state || typeof history.state.depth !== 'number') {
    history.replaceState({ depth: prev + 1 }, '');
  }
}

let depth = history.state && typeof history.state.depth === 'number' ? history.state.depth : 0;
numberEntry(depth - 1);
window.addEventListener('hashchange', () => {
  numberEntry(depth);
  depth = history.state.depth;
  render();
});

window.addEventListener('session-change', () => {
  feed.stale();
  if (!session.loggedIn) {
    const { path } = parse();
    const route = ROUTES.find((r) => r.re.test(path));
    if (route && route.auth) {
      toast('Please log in again.', 'error');
      location.replace(`#/login?next=${encodeURIComponent(`#${path}`)}`);
    }
  }
});

fillIcons(document);
render();
