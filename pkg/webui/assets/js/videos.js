// VideoList: a vertical, snap-scrolling list of full-screen videos that
// plays the one in view and pauses the rest. The feed and the profile
// player both use it.

import { api, session, mediaURL } from './api.js';
import { h, icon, avatar, count, showError, toast } from './ui.js';
import { openComments } from './comments.js';

// Sound is off until the person asks for it; browsers refuse to autoplay
// with sound. The choice then holds for every video.
const sound = { on: false };

export function requireLogin(why) {
  if (session.loggedIn) return true;
  toast(why, 'error');
  location.hash = `#/login?next=${encodeURIComponent(location.hash || '#/feed')}`;
  return false;
}

export class VideoList {
  // onNearEnd is called when the person reaches the last videos.
  constructor(scroller, { onNearEnd } = {}) {
    this.scroller = scroller;
    this.onNearEnd = onNearEnd;
    this.items = new Map(); // video id -> {video, el, player, ...}
    this.active = null;
    this.visible = true;
    this.playObs = new IntersectionObserver((es) => this.onPlayView(es), { root: scroller, threshold: [0, 0.6] });
    // Load a video's file only when it is one screen away.
    this.loadObs = new IntersectionObserver((es) => {
      for (const e of es) {
        if (e.isIntersecting) this.load(e.target);
      }
    }, { root: scroller, rootMargin: '100% 0px 100% 0px' });
  }

  has(id) {
    return this.items.has(id);
  }

  get size() {
    return this.items.size;
  }

  add(videos, before = null) {
    for (const v of videos) {
      if (this.items.has(v.id)) continue;
      const item = this.slide(v);
      this.items.set(v.id, item);
      this.scroller.insertBefore(item.el, before);
      this.playObs.observe(item.el);
      this.loadObs.observe(item.el);
    }
  }

  clear() {
    for (const it of this.items.values()) {
      it.player.pause();
      it.player.removeAttribute('src');
      it.player.load();
      it.el.remove();
    }
    this.playObs.disconnect();
    this.loadObs.disconnect();
    this.items.clear();
    this.active = null;
  }

  destroy() {
    this.clear();
  }

  scrollTo(id) {
    const it = this.items.get(id);
    if (it) it.el.scrollIntoView({ block: 'start' });
  }

  pause() {
    this.visible = false;
    for (const it of this.items.values()) it.player.pause();
  }

  resume() {
    this.visible = true;
    if (this.active) this.play(this.active);
  }

  load(el) {
    const it = this.items.get(Number(el.dataset.id));
    if (!it || it.player.getAttribute('src')) return;
    it.player.src = mediaURL(it.video.play_url);
    it.player.preload = 'auto';
  }

  onPlayView(entries) {
    for (const e of entries) {
      const it = this.items.get(Number(e.target.dataset.id));
      if (!it) continue;
      if (e.intersectionRatio >= 0.6) {
        this.active = it;
        this.load(it.el);
        if (this.visible) this.play(it);
        const ids = [...this.items.keys()];
        if (this.onNearEnd && ids.indexOf(it.video.id) >= ids.length - 2) this.onNearEnd();
      } else {
        it.player.pause();
      }
    }
  }

  play(it) {
    it.player.muted = !sound.on;
    this.syncSound(it);
    const p = it.player.play();
    if (p) {
      p.catch((err) => {
        // Refused with sound: fall back to silent autoplay.
        if (err && err.name === 'NotAllowedError' && !it.player.muted) {
          sound.on = false;
          it.player.muted = true;
          this.syncSound(it);
          it.player.play().catch(() => this.syncPaused(it));
        }
      });
    }
  }

  syncSound(it) {
    it.el.classList.toggle('is-muted', it.player.muted);
    it.soundBtn.setAttribute('aria-label', it.player.muted ? 'Unmute' : 'Mute');
    it.soundBtn.replaceChildren(icon(it.player.muted ? 'muted' : 'sound'));
    this.syncPaused(it);
  }

  // syncPaused names what a tap on the video does next.
  syncPaused(it) {
    it.el.classList.toggle('is-paused', it.player.paused);
    let label = it.player.paused ? 'Play' : 'Pause';
    if (it.player.muted) label = 'Turn the sound on';
    it.tap.setAttribute('aria-label', label);
  }

  // tapVideo: the first tap turns the sound on; later taps pause and play.
  tapVideo(it) {
    if (it.player.muted) {
      this.setSound(it, true);
      if (it.player.paused) this.play(it);
      return;
    }
    if (it.player.paused) this.play(it);
    else it.player.pause();
  }

  setSound(it, on) {
    sound.on = on;
    it.player.muted = !on;
    this.syncSound(it);
  }

  slide(v) {
    const player = h('video', {
      class: 'player',
      playsinline: true,
      loop: true,
      preload: 'none',
      poster: mediaURL(v.cover_url),
      'aria-label': v.title,
    });
    player.muted = true;
    player.setAttribute('muted', '');
    player.setAttribute('webkit-playsinline', '');

    const it = { video: v, player };
    it.tap = h('button', { type: 'button', class: 'tap', 'aria-label': 'Turn the sound on', onclick: () => this.tapVideo(it) },
      icon('play', 'big-play'));
    it.soundBtn = h('button', { type: 'button', class: 'sound-btn', 'aria-label': 'Unmute', onclick: () => this.setSound(it, player.muted) }, icon('muted'));
    it.hint = h('span', { class: 'mute-hint', 'aria-hidden': 'true' }, icon('muted'), 'Tap to unmute');

    it.followBtn = h('button', { type: 'button', class: 'follow-btn', onclick: () => this.toggleFollow(v.author) });
    it.likeBtn = h('button', { type: 'button', class: 'act like-btn', onclick: () => this.toggleLike(it) });
    it.commentBtn = h('button', {
      type: 'button',
      class: 'act comment-btn',
      onclick: () => openComments(v, (n) => {
        v.comment_count = n;
        this.render(it);
      }),
    });

    it.el = h('article', { class: 'slide is-muted', dataset: { id: v.id }, 'aria-label': `${v.title} by ${v.author.name}` },
      player,
      it.tap,
      it.hint,
      h('div', { class: 'actions' },
        h('div', { class: 'author-wrap' },
          h('a', { href: `#/profile/${v.author.id}`, class: 'author-avatar', 'aria-label': `${v.author.name}'s profile` }, avatar(v.author, 48)),
          it.followBtn),
        it.likeBtn,
        it.commentBtn,
        it.soundBtn),
      h('div', { class: 'meta' },
        h('a', { class: 'author-name', href: `#/profile/${v.author.id}` }, `@${v.author.name}`),
        h('p', { class: 'title' }, v.title)));

    player.addEventListener('play', () => this.syncPaused(it));
    player.addEventListener('pause', () => this.syncPaused(it));
    player.addEventListener('volumechange', () => this.syncSound(it));
    player.addEventListener('error', () => it.el.classList.add('is-broken'));
    this.render(it);
    return it;
  }

  render(it) {
    const v = it.video;
    it.likeBtn.replaceChildren(icon('heart'), h('span', { class: 'n' }, count(v.favorite_count)));
    it.likeBtn.setAttribute('aria-pressed', v.is_favorite ? 'true' : 'false');
    it.likeBtn.setAttribute('aria-label', `${v.is_favorite ? 'Unlike' : 'Like'} (${v.favorite_count} likes)`);
    it.likeBtn.dataset.count = String(v.favorite_count);
    it.commentBtn.replaceChildren(icon('comment'), h('span', { class: 'n' }, count(v.comment_count)));
    it.commentBtn.setAttribute('aria-label', `Comments (${v.comment_count})`);
    it.commentBtn.dataset.count = String(v.comment_count);
    const self = session.userId === v.author.id;
    it.followBtn.hidden = self;
    it.followBtn.classList.toggle('following', v.author.is_follow);
    it.followBtn.setAttribute('aria-label', `${v.author.is_follow ? 'Unfollow' : 'Follow'} ${v.author.name}`);
    it.followBtn.setAttribute('aria-pressed', v.author.is_follow ? 'true' : 'false');
    it.followBtn.replaceChildren(icon(v.author.is_follow ? 'check' : 'plus'));
  }

  // toggleLike draws the change at once, sends it, then takes the count
  // the server holds. Clicks on one video are sent one after another, so
  // the last one wins on the server as on the screen.
  toggleLike(it) {
    if (!requireLogin('Log in to like videos.')) return;
    const v = it.video;
    const like = !v.is_favorite;
    v.is_favorite = like;
    v.favorite_count = Math.max(0, v.favorite_count + (like ? 1 : -1));
    this.render(it);
    it.likeSeq = (it.likeSeq || 0) + 1;
    const seq = it.likeSeq;
    it.likeChain = (it.likeChain || Promise.resolve()).then(async () => {
      try {
        await api.favorite(v.id, like);
      } catch (err) {
        if (seq === it.likeSeq) {
          v.is_favorite = !like;
          v.favorite_count = Math.max(0, v.favorite_count + (like ? -1 : 1));
          this.render(it);
        }
        showError(err);
        return;
      }
      if (seq !== it.likeSeq) return; // a later click will reconcile
      try {
        const res = await api.publishList(v.author.id);
        const fresh = (res.video_list || []).find((x) => x.id === v.id);
        if (fresh && seq === it.likeSeq) {
          v.favorite_count = fresh.favorite_count;
          v.is_favorite = fresh.is_favorite;
          v.comment_count = fresh.comment_count;
          this.render(it);
        }
      } catch (err) {
        showError(err);
      }
    });
  }

  async toggleFollow(author) {
    if (!requireLogin('Log in to follow people.')) return;
    const follow = !author.is_follow;
    const apply = (on) => {
      for (const it of this.items.values()) {
        if (it.video.author.id === author.id) {
          it.video.author.is_follow = on;
          this.render(it);
        }
      }
    };
    author.is_follow = follow;
    apply(follow);
    try {
      await api.follow(author.id, follow);
      toast(follow ? `Following ${author.name}` : `Unfollowed ${author.name}`);
    } catch (err) {
      author.is_follow = !follow;
      apply(!follow);
      showError(err);
    }
  }
}
