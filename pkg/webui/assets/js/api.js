// The client side of the /douyin/ API: one function per route, each
// resolving to the JSON answer or rejecting with an ApiError whose message
// is the server's status_msg, written for the person using the app.

const TOKEN_KEY = 'douyin.token';
const USER_KEY = 'douyin.user_id';

// Codes the server uses for a missing or expired login (pkg/errcode).
const NOT_LOGGED_IN = 40101;
const BAD_TOKEN = 40102;

export const NETWORK_ERROR = -1;

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }

  get needsLogin() {
    return this.code === NOT_LOGGED_IN || this.code === BAD_TOKEN;
  }
}

// The login lives in localStorage so that it survives a reload.
export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY) || '';
  },
  get userId() {
    return Number(localStorage.getItem(USER_KEY) || 0);
  },
  get loggedIn() {
    return this.token !== '' && this.userId > 0;
  },
  set(userId, token) {
    localStorage.setItem(USER_KEY, String(userId));
    localStorage.setItem(TOKEN_KEY, token);
    window.dispatchEvent(new CustomEvent('session-change'));
  },
  clear() {
    localStorage.removeItem(USER_KEY);
    localStorage.removeItem(TOKEN_KEY);
    window.dispatchEvent(new CustomEvent('session-change'));
  },
};

function networkError() {
  return new ApiError('Network error: the server could not be reached. Check your connection and try again.', NETWORK_ERROR);
}

// check turns an answer into its JSON or an ApiError.
function check(status, text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return new ApiError(`The server answered with an error (HTTP ${status}). Please try again.`, status || NETWORK_ERROR);
  }
  if (body === null || typeof body !== 'object') {
    return new ApiError('The server sent an answer the app does not understand.', NETWORK_ERROR);
  }
  if (body.status_code !== 0) {
    const code = Number(body.status_code) || status;
    const err = new ApiError(body.status_msg || `The request failed (code ${code}).`, code);
    if (code === BAD_TOKEN && session.token) {
      // The login expired or the server's key changed: forget it, so
      // the next screens ask for a fresh login instead of failing.
      session.clear();
    }
    return err;
  }
  return body;
}

function clean(params) {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') out.set(k, String(v));
  }
  return out;
}

async function request(method, route, params = {}) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const query = clean(params);
  let url = `/douyin/${route}/`;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (method === 'GET') {
    const qs = query.toString();
    if (qs) url += `?${qs}`;
  } else {
    // Passwords and texts go in the body, never in a logged URL.
    init.body = query;
  }
  let res;
  let text;
  try {
    res = await fetch(url, init);
    text = await res.text();
  } catch {
    throw networkError();
  }
  const out = check(res.status, text);
  if (out instanceof ApiError) throw out;
  return out;
}

const get = (route, params) => request('GET', route, params);
const post = (route, params) => request('POST', route, params);

export const api = {
  feed: (latestTime) => get('feed', { latest_time: latestTime || undefined }),
  register: (username, password) => post('user/register', { username, password }),
  login: (username, password) => post('user/login', { username, password }),
  user: (userId) => get('user', { user_id: userId }),
  publishList: (userId) => get('publish/list', { user_id: userId }),
  favorite: (videoId, like) => post('favorite/action', { video_id: videoId, action_type: like ? 1 : 2 }),
  favoriteList: (userId) => get('favorite/list', { user_id: userId }),
  addComment: (videoId, text) => post('comment/action', { video_id: videoId, action_type: 1, comment_text: text }),
  deleteComment: (videoId, commentId) => post('comment/action', { video_id: videoId, action_type: 2, comment_id: commentId }),
  comments: (videoId) => get('comment/list', { video_id: videoId }),
  follow: (userId, follow) => post('relation/action', { to_user_id: userId, action_type: follow ? 1 : 2 }),
  followList: (userId) => get('relation/follow/list', { user_id: userId }),
  followerList: (userId) => get('relation/follower/list', { user_id: userId }),
  friendList: (userId) => get('relation/friend/list', { user_id: userId }),
  sendMessage: (userId, content) => post('message/action', { to_user_id: userId, action_type: 1, content }),
  chat: (userId, preMsgTime) => get('message/chat', { to_user_id: userId, pre_msg_time: String(preMsgTime) }),
};

// publish uploads a video as multipart data, token, title. onProgress gets
// a fraction 0..1 of the bytes sent. It returns the XMLHttpRequest (to
// abort) and a promise of the answer.
export function publish(file, title, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    const form = new FormData();
    // The token and title go before the file, so the server can check the
    // login before it reads the whole video.
    form.append('token', session.token);
    form.append('title', title);
    form.append('data', file, file.name || 'video.mp4');
    xhr.open('POST', '/douyin/publish/action/');
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    });
    xhr.upload.addEventListener('load', () => onProgress(1));
    xhr.addEventListener('load', () => {
      const out = check(xhr.status, xhr.responseText);
      if (out instanceof ApiError) reject(out);
      else resolve(out);
    });
    xhr.addEventListener('error', () => reject(networkError()));
    xhr.addEventListener('timeout', () => reject(networkError()));
    xhr.addEventListener('abort', () => reject(new ApiError('Upload cancelled.', 0)));
    xhr.send(form);
  });
  return { xhr, done };
}

// mediaURL keeps a media link on the page's own origin when it names the
// same server under another loopback name (localhost vs 127.0.0.1): the
// page's security policy only lets media come from its own origin.
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
export function mediaURL(raw) {
  if (!raw) return '';
  let u;
  try {
    u = new URL(raw, location.href);
  } catch {
    return '';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
  if (u.origin !== location.origin && LOOPBACK.has(u.hostname) && LOOPBACK.has(location.hostname)
    && u.port === location.port && u.protocol === location.protocol) {
    return location.origin + u.pathname + u.search;
  }
  return u.href;
}
