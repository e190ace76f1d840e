// Browser end-to-end test of the web client: two people, each in their own
// browser context, drive the real server through the pages only.
//
// Run through run.sh, which starts the server and sets WEB_BASE_URL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, copyFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = process.env.WEB_BASE_URL;
const SAMPLE = process.env.WEB_SAMPLE_VIDEO || path.join(here, '../../pkg/media/sample.mp4');
const ARTIFACTS = path.join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'secret-pass-1';

if (!BASE) throw new Error('WEB_BASE_URL is not set: run test/web/run.sh');

// api calls the server directly, to compare what the pages show with what
// the server says.
async function api(method, route, params, token) {
  const body = new URLSearchParams(params);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const url = `${BASE}/douyin/${route}/${method === 'GET' ? `?${body}` : ''}`;
  const res = await fetch(url, { method, headers, body: method === 'GET' ? undefined : body });
  assert.equal(res.status, 200, `${route}: HTTP status`);
  return res.json();
}

// person opens a phone-sized browser context and records what goes wrong
// in it: script errors, console errors (a blocked resource under the page's
// security policy shows up there) and requests to any other host.
async function person(browser, label) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    hasTouch: true,
    locale: 'en-US',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const p = { label, context, page, problems: [], offline: false };
  const origin = new URL(BASE).origin;
  page.on('pageerror', (e) => p.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !(p.offline && /ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(m.text()))) {
      p.problems.push(`console error: ${m.text()}`);
    }
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== origin) p.problems.push(`request to another host: ${r.url()}`);
  });
  return p;
}

async function session(p) {
  return p.page.evaluate(() => ({
    id: Number(localStorage.getItem('douyin.user_id')),
    token: localStorage.getItem('douyin.token'),
  }));
}

async function register(p, name) {
  const { page } = p;
  await page.goto(`${BASE}/#/login?mode=register`);
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/#\/feed$/);
  const s = await session(p);
  assert.ok(s.id > 0, `${p.label}: user id stored after sign-up, got ${s.id}`);
  assert.ok(s.token, `${p.label}: token stored after sign-up`);
  return s;
}

// slideOf finds the feed slide of the video titled title.
function slideOf(page, title) {
  return page.locator('#feed-view article.slide').filter({ has: page.locator('.title', { hasText: title }) });
}

// bubbles counts the chat messages with exactly this text.
async function bubbles(page, text, who) {
  return page.locator(`.messages .msg.${who} .msg-text`, { hasText: text }).evaluateAll(
    (els, t) => els.filter((e) => e.textContent === t).length, text);
}

test('two people use the web client end to end', { timeout: 240_000 }, async (t) => {
  await rm(ARTIFACTS, { recursive: true, force: true });
  await mkdir(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const suffix = randomBytes(4).toString('hex');
  const nameA = `alice_${suffix}`;
  const nameB = `bob_${suffix}`;
  const title = `Rainbow bars ${suffix}`;
  const A = await person(browser, 'A');
  const B = await person(browser, 'B');
  let a;
  let b;

  // step runs one part; on failure it keeps screenshots of both screens,
  // and the later parts, which build on it, are skipped.
  let broken = '';
  const step = (name, fn) => t.test(name, { skip: broken ? `needs "${broken}"` : false }, async () => {
    try {
      await fn();
    } catch (err) {
      broken = name;
      const slug = name.replace(/\W+/g, '-').toLowerCase();
      await A.page.screenshot({ path: path.join(ARTIFACTS, `fail-${slug}-A.png`) }).catch(() => {});
      await B.page.screenshot({ path: path.join(ARTIFACTS, `fail-${slug}-B.png`) }).catch(() => {});
      throw err;
    }
  });

  try {
    await step('a wrong password shows the server message', async () => {
      const want = await api('POST', 'user/login', { username: 'douyin-demo', password: 'not-the-password' });
      assert.notEqual(want.status_code, 0, 'the server refuses a wrong password');
      const { page } = A;
      await page.goto(`${BASE}/#/login`);
      await page.getByLabel('Username').fill('douyin-demo');
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      const shown = page.locator('#login-error');
      await shown.filter({ hasText: want.status_msg }).waitFor();
      assert.equal((await shown.textContent()).trim(), want.status_msg);
      assert.match(page.url(), /#\/login$/, 'stays on the login page');
    });

    await step('A and B register', async () => {
      a = await register(A, nameA);
      b = await register(B, nameB);
      assert.notEqual(a.id, b.id);
    });

    await step('a taken name shows the conflict message', async () => {
      const want = await api('POST', 'user/register', { username: nameA, password: PASSWORD });
      assert.notEqual(want.status_code, 0);
      const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
      const page = await ctx.newPage();
      await page.goto(`${BASE}/#/login?mode=register`);
      await page.getByLabel('Username').fill(nameA);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.locator('#login-error').filter({ hasText: want.status_msg }).waitFor();
      await ctx.close();
    });

    await step('a file that is not a video shows the server message', async () => {
      const bytes = 'this is plain text, not a video\n'.repeat(20);
      const form = new FormData();
      form.append('token', a.token);
      form.append('title', 'not a video');
      form.append('data', new Blob([bytes], { type: 'video/mp4' }), 'fake.mp4');
      const want = await (await fetch(`${BASE}/douyin/publish/action/`, { method: 'POST', body: form })).json();
      assert.notEqual(want.status_code, 0, 'the server refuses a text file');
      const { page } = A;
      await page.goto(`${BASE}/#/upload`);
      await page.getByLabel('Video file').setInputFiles({ name: 'fake.mp4', mimeType: 'video/mp4', buffer: Buffer.from(bytes) });
      await page.getByLabel('Title').fill('not a video');
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.locator('#upload-error').filter({ hasText: want.status_msg }).waitFor();
      await page.locator('.toast-error', { hasText: want.status_msg }).first().waitFor();
      assert.match(page.url(), /#\/upload$/, 'stays on the upload page');
    });

    await step('A uploads the sample video with a progress bar to 100%', async () => {
      const { page } = A;
      await page.goto(`${BASE}/#/upload`);
      const hint = await page.locator('#upload-hint').textContent();
      for (const format of ['MP4', 'MOV', 'WebM', 'MKV', 'AVI', 'FLV', '3GP', 'MPEG']) {
        assert.ok(hint.includes(format), `the upload hint names ${format}: ${hint}`);
      }
      assert.ok(hint.includes('up to 100 MB'), `the upload hint names the size limit: ${hint}`);
      await page.getByLabel('Video file').setInputFiles(SAMPLE);
      await page.getByLabel('Title').fill(title);
      await page.locator('video.preview').waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'upload.png') });
      // Record every value the progress bar takes.
      await page.evaluate(() => {
        const bar = document.getElementById('upload-progress');
        window.progressSeen = [];
        new MutationObserver(() => window.progressSeen.push(bar.value)).observe(bar, { attributes: true, attributeFilter: ['value'] });
      });
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.waitForURL(new RegExp(`#/profile/${a.id}$`));
      const seen = await page.evaluate(() => window.progressSeen);
      assert.ok(seen.length > 0, 'the progress bar moved');
      assert.equal(Math.max(...seen), 100, `progress reached 100%, saw ${seen}`);
      for (let i = 1; i < seen.length; i++) {
        if (seen[i] !== 0) assert.ok(seen[i] >= seen[i - 1], `progress never goes back, saw ${seen}`);
      }
      await page.locator('.grid .tile', { hasText: title }).waitFor();
      const list = await api('GET', 'publish/list', { user_id: a.id });
      assert.equal(list.video_list.filter((v) => v.title === title).length, 1, 'one video published');
    });

    await step('B sees the video at the top of the feed, playing', async () => {
      const { page } = B;
      await page.goto(`${BASE}/#/feed`);
      await page.reload();
      const slide = slideOf(page, title);
      await slide.waitFor();
      const first = page.locator('#feed-view article.slide').first();
      assert.equal(await first.locator('.title').textContent(), title, 'newest first');
      assert.equal(await slide.locator('.author-name').textContent(), `@${nameA}`);
      await page.waitForFunction((t) => {
        const s = [...document.querySelectorAll('#feed-view article.slide')].find((e) => e.querySelector('.title').textContent === t);
        const v = s && s.querySelector('video');
        return v && !v.paused && v.currentTime > 0 && v.muted;
      }, title);

      // One swipe down: the next video plays, the one scrolled away pauses.
      const states = () => page.$$eval('#feed-view article.slide video', (vs) => vs.map((v) => (v.paused ? 'paused' : 'playing')));
      await page.locator('#feed-view .feed').evaluate((f) => f.scrollBy(0, f.clientHeight));
      await page.waitForFunction(() => {
        const vs = [...document.querySelectorAll('#feed-view article.slide video')];
        return vs.length > 1 && vs[0].paused && !vs[1].paused;
      });
      assert.deepEqual((await states()).slice(0, 2), ['paused', 'playing']);
      await page.locator('#feed-view .feed').evaluate((f) => f.scrollTo(0, 0));
      await page.waitForFunction(() => {
        const vs = [...document.querySelectorAll('#feed-view article.slide video')];
        return !vs[0].paused && vs[1].paused;
      });

      // A tap turns the sound on; the next tap pauses.
      const slide0 = page.locator('#feed-view article.slide').first();
      await slide0.getByRole('button', { name: 'Turn the sound on' }).click();
      await page.waitForFunction(() => {
        const v = document.querySelector('#feed-view article.slide video');
        return !v.muted && !v.paused;
      });
      assert.equal(await slide0.locator('.mute-hint').isVisible(), false, 'the unmute hint is gone');
      await slide0.getByRole('button', { name: 'Pause' }).click();
      await page.waitForFunction(() => document.querySelector('#feed-view article.slide video').paused);
      await slide0.getByRole('button', { name: 'Play' }).click();
      await page.waitForFunction(() => !document.querySelector('#feed-view article.slide video').paused);
    });

    await step('B likes it; the count is 1 and survives a reload', async () => {
      const { page } = B;
      const like = slideOf(page, title).locator('.like-btn');
      assert.equal(await like.getAttribute('data-count'), '0');
      const reconciled = page.waitForResponse((r) => r.url().includes('/douyin/publish/list/'));
      await like.click();
      assert.equal(await like.getAttribute('aria-pressed'), 'true', 'drawn at once');
      await reconciled;
      // The server's answer is drawn right after it arrives.
      await page.waitForTimeout(300);
      assert.equal(await like.getAttribute('data-count'), '1');
      await page.reload();
      const again = slideOf(page, title).locator('.like-btn');
      await again.waitFor();
      assert.equal(await again.getAttribute('data-count'), '1', 'count after reload');
      assert.equal(await again.getAttribute('aria-pressed'), 'true', 'liked after reload');
    });

    await step('B comments; the comment appears in the list', async () => {
      const { page } = B;
      const slide = slideOf(page, title);
      await slide.locator('.comment-btn').click();
      const sheet = page.locator('dialog.sheet');
      await sheet.waitFor();
      await sheet.getByText('No comments yet').waitFor();
      const text = `Lovely colours ${suffix}`;
      await sheet.getByLabel('Comment', { exact: true }).fill(text);
      await sheet.getByRole('button', { name: 'Post' }).click();
      await sheet.locator('.comment-list .comment-text', { hasText: text }).waitFor();
      assert.equal(await sheet.locator('.comment-list .comment').count(), 1);
      await page.screenshot({ path: path.join(ARTIFACTS, 'comments.png') });

      // A second one, deleted again: the list and the count follow.
      const oops = `Oops, wrong video ${suffix}`;
      await sheet.getByLabel('Comment', { exact: true }).fill(oops);
      await sheet.getByRole('button', { name: 'Post' }).click();
      await sheet.getByRole('heading', { name: '2 comments' }).waitFor();
      assert.deepEqual(await sheet.locator('.comment-list .comment-text').allTextContents(), [oops, text], 'newest first');
      await sheet.getByRole('button', { name: `Delete comment: ${oops}` }).click();
      await sheet.getByRole('heading', { name: '1 comment' }).waitFor();
      assert.deepEqual(await sheet.locator('.comment-list .comment-text').allTextContents(), [text]);
      await sheet.getByRole('button', { name: 'Close comments' }).click();
      await sheet.waitFor({ state: 'detached' });
      assert.equal(await slide.locator('.comment-btn').getAttribute('data-count'), '1');
      const list = await api('GET', 'comment/list', { video_id: await slide.getAttribute('data-id') });
      assert.deepEqual(list.comment_list.map((c) => c.content), [text]);
    });

    await step('B follows A from the feed', async () => {
      const { page } = B;
      const follow = slideOf(page, title).locator('.follow-btn');
      assert.equal(await follow.getAttribute('aria-pressed'), 'false');
      await follow.click();
      await page.getByText(`Following ${nameA}`).waitFor();
      assert.equal(await follow.getAttribute('aria-pressed'), 'true');
      const info = await api('GET', 'user', { user_id: a.id }, b.token);
      assert.equal(info.user.is_follow, true, 'the server has the follow');
    });

    await step('the feed screenshot', async () => {
      await B.page.locator('.toast').first().waitFor({ state: 'detached' });
      await B.page.screenshot({ path: path.join(ARTIFACTS, 'feed.png') });
    });

    await step('a wide screen gets a rail and a wider shell', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await ctx.newPage();
      await page.goto(`${BASE}/#/feed`);
      await page.locator('.slide').first().waitFor();
      const app = await page.locator('#app').boundingBox();
      const rail = await page.locator('#tabbar').boundingBox();
      assert.ok(app.width > 1000, `the shell uses the width: ${app.width} px of 1440`);
      assert.ok(rail.height > rail.width, `the tab bar is a rail at the side: ${rail.width}x${rail.height}`);
      await page.screenshot({ path: path.join(ARTIFACTS, 'feed-wide.png') });
      await ctx.close();
    });

    await step('A follows B back from B\'s profile', async () => {
      const { page } = A;
      await page.goto(`${BASE}/#/profile/${b.id}`);
      const btn = page.locator('#profile-follow');
      await btn.waitFor();
      assert.equal((await btn.textContent()).trim(), 'Follow');
      await btn.click();
      await page.locator('#profile-follow', { hasText: 'Following' }).waitFor();
      await page.waitForFunction(() => !document.getElementById('profile-follow').disabled);
      assert.equal((await page.locator('.stats li').nth(1).locator('strong').textContent()), '1', 'B has one follower');
      assert.equal((await page.locator('.stats li').nth(2).locator('span').textContent()), 'Likes received',
        'the count of likes received is not called like the tab of liked videos');
      await page.screenshot({ path: path.join(ARTIFACTS, 'profile.png') });

      // B's lists: the video B liked, and A among the people B follows.
      await page.getByRole('tab', { name: /^Liked/ }).click();
      const tile = page.locator('.grid .tile', { hasText: title });
      await tile.waitFor();
      await page.getByRole('tab', { name: /^Following/ }).click();
      await page.locator('.people .person', { hasText: nameA }).waitFor();
      await page.getByRole('tab', { name: /^Followers/ }).click();
      await page.locator('.people .person', { hasText: nameA }).waitFor();
      await page.getByRole('tab', { name: /^Liked/ }).click();
      await tile.click();
      const layer = page.getByRole('dialog', { name: 'Video player' });
      await layer.locator('.slide .title', { hasText: title }).waitFor();
      await page.waitForFunction(() => {
        const v = document.querySelector('.player-layer video');
        return v && !v.paused;
      });
      await layer.getByRole('button', { name: 'Close player' }).click();
      await layer.waitFor({ state: 'detached' });
    });

    await step('both see each other in friends', async () => {
      await A.page.goto(`${BASE}/#/friends`);
      await B.page.goto(`${BASE}/#/friends`);
      await A.page.locator('.friends .person', { hasText: nameB }).waitFor();
      await B.page.locator('.friends .person', { hasText: nameA }).waitFor();
    });

    await step('A and B chat; each message arrives once by polling', async () => {
      const polls = { A: [], B: [] };
      for (const p of [A, B]) {
        p.page.on('request', (r) => {
          const u = new URL(r.url());
          if (u.pathname === '/douyin/message/chat/') polls[p.label].push({ at: Date.now(), pre: u.searchParams.get('pre_msg_time') });
        });
      }
      await A.page.locator('.friends .person', { hasText: nameB }).click();
      await A.page.waitForURL(new RegExp(`#/chat/${b.id}$`));
      await B.page.locator('.friends .person', { hasText: nameA }).click();
      await B.page.waitForURL(new RegExp(`#/chat/${a.id}$`));
      await A.page.locator('#chat-empty').waitFor();
      await B.page.locator('#chat-empty').waitFor();

      const hiA = `Hi ${nameB}, nice to meet you`;
      const hiB = `Hello ${nameA}! Love the video`;
      await A.page.getByLabel('Message', { exact: true }).fill(hiA);
      await A.page.getByRole('button', { name: 'Send' }).click();
      await A.page.locator('.msg.mine', { hasText: hiA }).waitFor();
      await B.page.locator('.msg.theirs', { hasText: hiA }).waitFor({ timeout: 10_000 });

      await B.page.getByLabel('Message', { exact: true }).fill(hiB);
      await B.page.getByRole('button', { name: 'Send' }).click();
      await B.page.locator('.msg.mine', { hasText: hiB }).waitFor();
      await A.page.locator('.msg.theirs', { hasText: hiB }).waitFor({ timeout: 10_000 });

      // Let a few more polls run: nothing may appear twice.
      await A.page.waitForTimeout(3500);
      for (const [p, mine, theirs] of [[A, hiA, hiB], [B, hiB, hiA]]) {
        assert.equal(await bubbles(p.page, mine, 'mine'), 1, `${p.label} sees own message once`);
        assert.equal(await bubbles(p.page, theirs, 'theirs'), 1, `${p.label} sees the other's message once`);
        assert.equal(await p.page.locator('.messages .msg').count(), 2, `${p.label} sees two messages`);
      }

      // The polling itself: 0 first, then the last create_time seen, about
      // once a second.
      const convo = await api('GET', 'message/chat', { to_user_id: b.id, pre_msg_time: 0 }, a.token);
      const times = convo.message_list.map((m) => String(m.create_time));
      assert.equal(times.length, 2, 'the server holds two messages');
      for (const [label, seen] of Object.entries(polls)) {
        assert.ok(seen.length >= 4, `${label} polled ${seen.length} times`);
        assert.equal(seen[0].pre, '0', `${label} starts with pre_msg_time 0`);
        const pres = seen.map((s) => Number(s.pre));
        for (let i = 1; i < pres.length; i++) assert.ok(pres[i] >= pres[i - 1], `${label}: pre_msg_time never goes back: ${pres}`);
        assert.ok(times.includes(seen.at(-1).pre), `${label} ends polling from a message's create_time, got ${seen.at(-1).pre}, want one of ${times}`);
        const gaps = seen.slice(1).map((s, i) => s.at - seen[i].at);
        const median = gaps.sort((x, y) => x - y)[Math.floor(gaps.length / 2)];
        assert.ok(median >= 900 && median < 2500, `${label} polls about every second, median gap ${median} ms`);
      }
      await A.page.screenshot({ path: path.join(ARTIFACTS, 'chat.png') });

      // Back in the friend list, the latest message shows under the name.
      await A.page.getByRole('button', { name: 'Back' }).click();
      await A.page.waitForURL(/#\/friends$/);
      await A.page.locator('.friends .person', { hasText: hiB }).waitFor();
      await B.page.getByRole('button', { name: 'Back' }).click();
      await B.page.locator('.friends .person', { hasText: `You: ${hiB}` }).waitFor();
      await A.page.screenshot({ path: path.join(ARTIFACTS, 'friends.png') });
    });

    await step('a network failure is shown', async () => {
      const { page, context } = B;
      await page.goto(`${BASE}/#/feed`);
      await slideOf(page, title).waitFor();
      B.offline = true;
      await context.setOffline(true);
      await page.getByRole('button', { name: 'Refresh feed' }).click();
      await page.locator('.toast-error', { hasText: 'Network error' }).waitFor();
      await context.setOffline(false);
      B.offline = false;
    });

    await step('the API reference lists every route and tries one on this server', async () => {
      const { page } = A;
      await page.goto(`${BASE}/#/profile`);
      await page.getByRole('link', { name: 'API' }).click();
      await page.waitForURL(/\/web\/api\.html/);
      const spec = await (await fetch(`${BASE}/openapi.json`)).json();
      const operations = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
      await page.locator('.opblock').nth(operations - 1).waitFor();
      assert.equal(await page.locator('.opblock').count(), operations, 'one block per operation of /openapi.json');
      const feed = page.locator('#operations-videos-feed');
      await feed.locator('.opblock-summary').click();
      await feed.getByRole('button', { name: 'Execute' }).click();
      const answer = feed.locator('.live-responses-table .response-col_description pre').first();
      await answer.waitFor();
      const body = JSON.parse(await answer.innerText());
      assert.equal(body.status_code, 0, 'the feed tried from the reference');
      assert.ok(Array.isArray(body.video_list) && body.video_list.length > 0, 'the feed holds videos');
      await page.screenshot({ path: path.join(ARTIFACTS, 'api-reference.png') });
    });

    await step('log out forgets the login', async () => {
      const { page } = B;
      await page.goto(`${BASE}/#/profile`);
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(/#\/feed$/);
      assert.deepEqual(await session(B), { id: 0, token: null });
      await page.goto(`${BASE}/#/friends`);
      await page.waitForURL(/#\/login\?next=/);
    });

    await step('nothing went wrong in either browser', async () => {
      assert.deepEqual(A.problems, [], 'A');
      assert.deepEqual(B.problems, [], 'B');
    });

    if (process.env.WEB_UPDATE_SCREENSHOT === '1') {
      await copyFile(path.join(ARTIFACTS, 'feed.png'), path.join(here, 'screenshot-feed.png'));
    }
  } finally {
    await browser.close();
  }
});
