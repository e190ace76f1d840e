// The home feed: newest videos first, 30 at a time. Each page asks for the
// videos published before the previous page's next_time; an empty page
// means the end, and the next load starts again from the top.

import { api } from './api.js';
import { h, icon, showError } from './ui.js';
import { VideoList } from './videos.js';

export class FeedView {
  constructor(root) {
    this.root = root;
    this.scroller = h('div', { class: 'feed', role: 'feed', 'aria-busy': 'false', 'aria-label': 'Videos', tabindex: 0 });
    this.end = h('div', { class: 'feed-end' });
    this.scroller.append(this.end);
    this.list = new VideoList(this.scroller, { onNearEnd: () => this.more() });
    this.header = h('header', { class: 'feed-head' },
      h('h1', {}, 'For you'),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Refresh feed', onclick: () => this.reload() }, icon('refresh')));
    root.append(this.header, this.scroller);
    this.nextTime = 0;
    this.loaded = false;
    this.isStale = false;
    this.loading = null;
    this.done = false;
  }

  show() {
    if (!this.loaded || this.isStale) {
      this.reload();
      return;
    }
    this.list.resume();
  }

  hide() {
    this.list.pause();
  }

  // stale marks the likes and follows as drawn for someone else (a login
  // or logout happened); the next show reloads.
  stale() {
    this.isStale = true;
  }

  reload() {
    this.isStale = false;
    this.nextTime = 0;
    this.done = false;
    return this.fetch(true);
  }

  more() {
    if (!this.done) this.fetch(false);
  }

  async fetch(reset) {
    if (this.loading) {
      if (!reset) return this.loading;
      await this.loading.catch(() => {});
    }
    this.scroller.setAttribute('aria-busy', 'true');
    if (reset && this.list.size === 0) this.end.replaceChildren(h('div', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading videos' }));
    this.loading = (async () => {
      try {
        const res = await api.feed(reset ? 0 : this.nextTime);
        const videos = res.video_list || [];
        if (reset) this.list.clear();
        this.loaded = true;
        if (videos.length === 0) {
          this.done = true;
        } else {
          this.nextTime = res.next_time;
          this.list.add(videos, this.end);
        }
        this.drawEnd();
        if (reset) this.scroller.scrollTop = 0;
      } catch (err) {
        showError(err);
        this.end.replaceChildren(h('div', { class: 'end-card' },
          h('p', {}, err.message),
          h('button', { type: 'button', class: 'btn', onclick: () => this.fetch(reset || this.list.size === 0) }, 'Try again')));
      } finally {
        this.scroller.setAttribute('aria-busy', 'false');
        this.loading = null;
      }
    })();
    return this.loading;
  }

  drawEnd() {
    if (this.list.size === 0) {
      this.end.replaceChildren(h('div', { class: 'end-card' },
        h('p', { class: 'big' }, 'No videos yet'),
        h('p', {}, 'Be the first to share one.'),
        h('a', { class: 'btn', href: '#/upload' }, 'Upload a video')));
      return;
    }
    if (this.done) {
      this.end.replaceChildren(h('div', { class: 'end-card' },
        h('p', { class: 'big' }, "You're all caught up"),
        h('button', { type: 'button', class: 'btn', onclick: () => this.reload() }, 'Watch again from the top')));
      return;
    }
    this.end.replaceChildren(h('div', { class: 'spinner', role: 'progressbar', 'aria-label': 'Loading more videos' }));
  }
}
