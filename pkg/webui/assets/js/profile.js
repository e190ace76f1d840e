// A person's page: their counts, follow and message buttons, and tabs for
// their videos, the videos they liked, their followers and who they follow.

import { api, session, mediaURL } from './api.js';
import { h, icon, avatar, count, topbar, showError, spinner, empty, toast } from './ui.js';
import { VideoList, requireLogin } from './videos.js';

const TABS = [
  { id: 'videos', label: 'Videos', n: (u) => u.work_count },
  { id: 'likes', label: 'Liked', n: (u) => u.favorite_count },
  { id: 'followers', label: 'Followers', n: (u) => u.follower_count },
  { id: 'following', label: 'Following', n: (u) => u.follow_count },
];

export function profilePage(root, params) {
  const id = params[0] ? Number(params[0]) : session.userId;
  const self = session.loggedIn && id === session.userId;
  const alive = { on: true };
  let player = null;

  const title = h('h1', {}, self ? 'Me' : 'Profile');
  const bar = topbar('', {
    back: '#/feed',
    actions: self ? [
      h('a', { class: 'btn ghost small', href: '/web/api.html' }, 'API'),
      h('button', { type: 'button', class: 'btn ghost small', onclick: logout }, 'Log out'),
    ] : [],
  });
  bar.querySelector('h1').replaceWith(title);
  const body = h('div', { class: 'page-body profile' }, spinner('Loading profile'));
  root.append(bar, body);

  function logout() {
    session.clear();
    toast('You are logged out.');
    location.hash = '#/feed';
  }

  async function load() {
    let user;
    try {
      user = (await api.user(id)).user;
    } catch (err) {
      if (!alive.on) return;
      showError(err);
      body.replaceChildren(h('div', { class: 'end-card' }, h('p', {}, err.message),
        h('button', { type: 'button', class: 'btn', onclick: load }, 'Try again')));
      return;
    }
    if (!alive.on) return;
    draw(user);
  }

  function draw(user) {
    title.textContent = user.name;
    const stats = h('ul', { class: 'stats' });
    const drawStats = () => stats.replaceChildren(
      h('li', {}, h('strong', {}, count(user.follow_count)), h('span', {}, 'Following')),
      h('li', {}, h('strong', {}, count(user.follower_count)), h('span', {}, 'Followers')),
      h('li', {}, h('strong', {}, count(user.total_favorited)), h('span', {}, 'Likes received')));
    drawStats();

    const buttons = h('div', { class: 'profile-actions' });
    if (!self) {
      const followBtn = h('button', { type: 'button', class: 'btn primary', id: 'profile-follow' });
      const drawFollow = () => {
        followBtn.textContent = user.is_follow ? 'Following' : 'Follow';
        followBtn.classList.toggle('primary', !user.is_follow);
        followBtn.setAttribute('aria-pressed', String(user.is_follow));
        followBtn.setAttribute('aria-label', `${user.is_follow ? 'Unfollow' : 'Follow'} ${user.name}`);
      };
      drawFollow();
      followBtn.addEventListener('click', async () => {
        if (!requireLogin('Log in to follow people.')) return;
        const follow = !user.is_follow;
        user.is_follow = follow;
        user.follower_count += follow ? 1 : -1;
        drawFollow();
        drawStats();
        followBtn.disabled = true;
        try {
          await api.follow(user.id, follow);
          const fresh = (await api.user(user.id)).user;
          Object.assign(user, fresh);
        } catch (err) {
          user.is_follow = !follow;
          user.follower_count += follow ? -1 : 1;
          showError(err);
        } finally {
          followBtn.disabled = false;
          drawFollow();
          drawStats();
        }
      });
      buttons.append(followBtn);
      if (session.loggedIn) {
        buttons.append(h('a', { class: 'btn', href: `#/chat/${user.id}` }, icon('chat'), 'Message'));
      }
    } else {
      buttons.append(h('a', { class: 'btn primary', href: '#/upload' }, icon('upload'), 'Upload'));
    }

    const panel = h('div', { class: 'tab-panel', role: 'tabpanel', id: 'profile-panel' });
    const tabs = TABS.map((t) => h('button', {
      type: 'button',
      role: 'tab',
      id: `tab-${t.id}`,
      'aria-controls': 'profile-panel',
      onclick: () => select(t.id),
    }, t.label, h('span', { class: 'tab-n' }, count(t.n(user)))));

    let seq = 0;
    async function select(tabId) {
      tabs.forEach((b, i) => b.setAttribute('aria-selected', String(TABS[i].id === tabId)));
      panel.setAttribute('aria-labelledby', `tab-${tabId}`);
      panel.replaceChildren(spinner());
      const mine = ++seq;
      try {
        let content;
        if (tabId === 'videos' || tabId === 'likes') {
          const res = tabId === 'videos' ? await api.publishList(user.id) : await api.favoriteList(user.id);
          content = grid(res.video_list || [], tabId === 'videos' ? 'No videos yet.' : 'No liked videos yet.');
        } else {
          const res = tabId === 'followers' ? await api.followerList(user.id) : await api.followList(user.id);
          content = people(res.user_list || [], tabId === 'followers' ? 'No followers yet.' : 'Not following anyone yet.');
        }
        if (mine === seq && alive.on) panel.replaceChildren(content);
      } catch (err) {
        if (mine !== seq || !alive.on) return;
        panel.replaceChildren(h('p', { class: 'form-error' }, err.message));
        showError(err);
      }
    }

    body.replaceChildren(
      h('section', { class: 'profile-head', 'aria-label': 'Profile' },
        h('img', { class: 'cover', src: mediaURL(user.background_image), alt: '', width: 480, height: 200 }),
        h('div', { class: 'profile-id' },
          avatar(user, 88, 'big'),
          h('div', {},
            h('h2', { class: 'profile-name' }, user.name),
            h('p', { class: 'muted signature' }, user.signature))),
        stats,
        buttons),
      h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Profile lists' }, tabs),
      panel);
    select('videos');
  }

  function grid(videos, none) {
    if (!videos.length) return empty(none);
    return h('ul', { class: 'grid' }, videos.map((v, i) => h('li', {},
      h('button', { type: 'button', class: 'tile', 'aria-label': `Play ${v.title}`, onclick: () => play(videos, i) },
        h('img', { src: mediaURL(v.cover_url), alt: v.title, loading: 'lazy', width: 180, height: 320 }),
        h('span', { class: 'tile-likes' }, icon('heart'), count(v.favorite_count)),
        h('span', { class: 'tile-title' }, v.title)))));
  }

  function people(users, none) {
    if (!users.length) return empty(none);
    return h('ul', { class: 'people' }, users.map((u) => {
      const li = h('li', { class: 'person' },
        h('a', { href: `#/profile/${u.id}`, class: 'person-link' },
          avatar(u, 48),
          h('span', { class: 'person-text' }, h('strong', {}, u.name), h('span', { class: 'muted' }, u.signature))));
      if (session.loggedIn && u.id !== session.userId) {
        const b = h('button', { type: 'button', class: 'btn small' });
        const drawB = () => {
          b.textContent = u.is_follow ? 'Following' : 'Follow';
          b.classList.toggle('primary', !u.is_follow);
          b.setAttribute('aria-label', `${u.is_follow ? 'Unfollow' : 'Follow'} ${u.name}`);
        };
        drawB();
        b.addEventListener('click', async () => {
          const follow = !u.is_follow;
          u.is_follow = follow;
          drawB();
          b.disabled = true;
          try {
            await api.follow(u.id, follow);
          } catch (err) {
            u.is_follow = !follow;
            drawB();
            showError(err);
          } finally {
            b.disabled = false;
          }
        });
        li.append(b);
      }
      return li;
    }));
  }

  // play opens the videos of a tab full screen, starting at index i.
  function play(videos, i) {
    closePlayer();
    const scroller = h('div', { class: 'feed' });
    const layer = h('div', { class: 'player-layer', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Video player' },
      scroller,
      h('button', { type: 'button', class: 'icon-btn layer-close', 'aria-label': 'Close player', onclick: closePlayer }, icon('close')));
    root.append(layer);
    const list = new VideoList(scroller);
    list.add(videos);
    list.scrollTo(videos[i].id);
    player = { layer, list };
    layer.querySelector('.layer-close').focus();
  }

  function closePlayer() {
    if (!player) return;
    player.list.destroy();
    player.layer.remove();
    player = null;
  }

  const onKey = (e) => {
    if (e.key === 'Escape') closePlayer();
  };
  document.addEventListener('keydown', onKey);
  load();
  return () => {
    alive.on = false;
    closePlayer();
    document.removeEventListener('keydown', onKey);
  };
}
